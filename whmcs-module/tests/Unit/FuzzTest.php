<?php

declare(strict_types=1);

namespace WHMCS\Module\Server\OpenClaw\Tests\Unit;

use WHMCS\Module\Server\OpenClaw\Kube\HttpResponse;
use WHMCS\Module\Server\OpenClaw\Kube\TransportFailure;
use WHMCS\Module\Server\OpenClaw\Tests\Support\FakeTransport;
use WHMCS\Module\Server\OpenClaw\Tests\Support\HostileInput;
use WHMCS\Module\Server\OpenClaw\Tests\Support\ModuleTestCase;

/**
 * Hostile `$params` (and hostile API answers) never make a module function throw, warn or return
 * anything but 'success' or a readable, bounded message. PHPUnit turns PHP notices and warnings into
 * failures, so "Array to string conversion" and friends are caught too.
 *
 * Seeded for reproducibility; set FUZZ_SEED to explore other inputs, FUZZ_RUNS for more of them.
 */
final class FuzzTest extends ModuleTestCase
{
    private const FIELDS = [
        'serviceid', 'userid', 'domain', 'password', 'serverhostname', 'serverip', 'serverport', 'serverusername',
        'serverpassword', 'serveraccesshash', 'configoption1', 'configoption2', 'configoption3', 'configoption4',
        'configoption5', 'configoption6', 'configoption7', 'configoption8', 'configoption9', 'configoption10',
        'configoptions', 'customfields', 'model', 'status',
    ];

    public function testHostileParamsAndAnswers(): void
    {
        $seed = (int) (getenv('FUZZ_SEED') ?: 20260401);
        $runs = (int) (getenv('FUZZ_RUNS') ?: 400);
        mt_srand($seed);
        $functions = [
            'openclaw_CreateAccount',
            'openclaw_ChangePackage',
            'openclaw_SuspendAccount',
            'openclaw_TerminateAccount',
            'openclaw_ChangePassword',
            'openclaw_reboot',
            'openclaw_UnsuspendAccount',
            'openclaw_approvedevices',
            'openclaw_hibernate',
            'openclaw_wake',
            'openclaw_backupnow',
            'openclaw_restorebackup',
            'openclaw_UsageUpdate',
        ];
        $outcomes = ['success' => 0, 'message' => 0];
        for ($run = 0; $run < $runs; $run++) {
            $params = self::params();
            foreach (self::FIELDS as $field) {
                if (mt_rand(0, 3) === 0) {
                    $params[$field] = self::hostileValue();
                }
            }
            $answer = self::hostileAnswer();
            $this->useTransport(new FakeTransport(static function () use ($answer): HttpResponse {
                if ($answer instanceof TransportFailure) {
                    throw $answer;
                }
                return $answer;
            }));
            $function = $functions[mt_rand(0, count($functions) - 1)];
            $context = sprintf('seed %d run %d %s', $seed, $run, $function);

            $result = $function($params);

            self::assertIsString($result, $context);
            if ($result === 'success') {
                $outcomes['success']++;
                continue;
            }
            $outcomes['message']++;
            self::assertNotSame('', trim($result), $context);
            self::assertLessThan(2500, strlen($result), $context . ': bounded for the WHMCS UI');
            self::assertSame(1, preg_match('//u', $result), $context . ': valid UTF-8');
            self::assertStringNotContainsString(self::CLUSTER_TOKEN, $result, $context);
        }
        self::assertGreaterThan(0, $outcomes['success'], 'the fuzzer also reaches the success path');
        self::assertGreaterThan(0, $outcomes['message']);
    }

    public function testHostileAnswersNeverBreakThePagesSsoOrImport(): void
    {
        mt_srand((int) (getenv('FUZZ_SEED') ?: 20261203));
        $functions = ['openclaw_ClientArea', 'openclaw_AdminServicesTabFields', 'openclaw_ServiceSingleSignOn',
            'openclaw_ListAccounts'];
        for ($run = 0; $run < 200; $run++) {
            $answer = self::hostileAnswer();
            $this->useTransport(new FakeTransport(static function () use ($answer): HttpResponse {
                if ($answer instanceof TransportFailure) {
                    throw $answer;
                }
                return $answer;
            }));
            $function = $functions[$run % count($functions)];
            $result = $function(self::params());
            self::assertIsArray($result, $function);
            self::assertStringNotContainsString(self::CLUSTER_TOKEN, (string) json_encode(
                $result,
                JSON_INVALID_UTF8_SUBSTITUTE,
            ), $function);
        }
    }

    public function testHostileConfigOptionsNeverBreakCreate(): void
    {
        foreach (HostileInput::strings() as $value) {
            $this->setUp();
            $params = self::params([
                'configoptions' => ['Server Type' => $value, 'Location' => $value, 'Backups' => $value,
                    'Backup Plan' => $value],
                'domain' => $value,
            ]);
            $result = openclaw_CreateAccount($params);
            self::assertIsString($result);
            // The fake apiserver accepts anything; what was sent must still be well-formed JSON.
            foreach ($this->transport->requests as $request) {
                if ($request->body !== null) {
                    self::assertIsArray(
                        json_decode($request->body, true),
                        'valid JSON for ' . bin2hex(substr($value, 0, 20)),
                    );
                }
            }
        }
    }

    private static function hostileValue(): mixed
    {
        $strings = HostileInput::strings();
        return match (mt_rand(0, 8)) {
            0 => mt_rand(PHP_INT_MIN, PHP_INT_MAX),
            1 => (mt_rand() / mt_getrandmax()) * 1e300,
            2 => (bool) mt_rand(0, 1),
            3 => null,
            4 => [
                $strings[mt_rand(0, count($strings) - 1)] => $strings[mt_rand(0, count($strings) - 1)],
                'Server Type' => [1, 2],
            ],
            5 => new \stdClass(),
            6 => random_bytes(mt_rand(1, 64)),
            default => $strings[mt_rand(0, count($strings) - 1)],
        };
    }

    private static function hostileAnswer(): HttpResponse|TransportFailure
    {
        $statuses = [200, 201, 204, 301, 400, 401, 403, 404, 409, 415, 422, 429, 500, 503, 0, 999];
        $status = $statuses[mt_rand(0, count($statuses) - 1)];
        return match (mt_rand(0, 7)) {
            0 => new TransportFailure(mt_rand(0, 100), random_bytes(mt_rand(1, 40))),
            1 => new HttpResponse($status, random_bytes(mt_rand(1, 200)), 'application/octet-stream'),
            2 => new HttpResponse($status, '"just a string"'),
            3 => new HttpResponse($status, '[1,2,3]'),
            4 => new HttpResponse($status, str_repeat('[', 5000)),
            5 => FakeTransport::json(
                $status,
                [
                    'kind' => 'Status',
                    'reason' => [1],
                    'message' => ['x'],
                    'details' => ['causes' => 'nope', 'name' => 5],
                ],
            ),
            6 => FakeTransport::status(
                $status,
                'Invalid',
                str_repeat("\xff", 3000),
                ['causes' => [['field' => 7, 'message' => null], 'x']],
            ),
            default => FakeTransport::json(
                $status,
                [
                    'metadata' => ['uid' => 5, 'deletionTimestamp' => null],
                    'spec' => 'x',
                    'status' => ['allowed' => 'yes'],
                ],
            ),
        };
    }
}
