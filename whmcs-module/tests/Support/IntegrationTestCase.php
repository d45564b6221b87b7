<?php

declare(strict_types=1);

namespace WHMCS\Module\Server\OpenClaw\Tests\Support;

use PHPUnit\Framework\TestCase;
use WHMCS\Module\Server\OpenClaw\Runtime;

/**
 * Base for tests against the real apiserver: module functions use the real curl transport, and after
 * every test nothing that reached logModuleCall may contain the WHMCS token or a gateway token.
 */
abstract class IntegrationTestCase extends TestCase
{
    protected ClusterUnderTest $cluster;
    /** @var list<string> gateway tokens this test handed to or got from the module */
    protected array $gatewayTokens = [];

    protected function setUp(): void
    {
        $this->cluster = ClusterUnderTest::get();
        WhmcsRecorder::reset();
        Runtime::reset();
        $this->gatewayTokens = [];
    }

    protected function tearDown(): void
    {
        putenv('OPENCLAW_API_GROUP');
        Runtime::reset();
        foreach (WhmcsRecorder::localApi('UpdateClientProduct') as $update) {
            if (isset($update['servicepassword'])) {
                $this->gatewayTokens[] = $update['servicepassword'];
            }
        }
        $logged = WhmcsRecorder::moduleLogText();
        foreach ([$this->cluster->token, ...$this->gatewayTokens] as $secret) {
            foreach ([$secret, base64_encode($secret)] as $form) {
                self::assertStringNotContainsString($form, $logged, 'a token reached logModuleCall');
            }
        }
    }

    protected static function newServiceId(): int
    {
        return random_int(100000, 999999999);
    }

    /**
     * Writes status as the operator would (the verifier may; WHMCS may not).
     *
     * @param array<string, mixed> $status
     */
    protected function writeStatus(int $id, array $status): void
    {
        $patched = $this->cluster->asVerifier(
            'PATCH',
            $this->cluster->instancePath($id, '/status'),
            (string) json_encode(['status' => $status]),
            'application/merge-patch+json',
        );
        self::assertSame(200, $patched->status, $patched->body);
    }

    /** @return array<string, string> a Ready=True condition, as the operator writes it */
    protected static function ready(): array
    {
        return ['type' => 'Ready', 'status' => 'True', 'reason' => 'Ready', 'message' => 'up',
            'lastTransitionTime' => '2026-12-03T00:00:00Z'];
    }

    /** The token CreateAccount generated and stored in WHMCS (through localAPI). */
    protected function generatedToken(): string
    {
        $updates = array_filter(
            WhmcsRecorder::localApi('UpdateClientProduct'),
            static fn (array $update): bool => isset($update['servicepassword']),
        );
        self::assertCount(1, $updates, 'CreateAccount stored one generated token in WHMCS');
        $token = (string) array_values($updates)[0]['servicepassword'];
        $this->gatewayTokens[] = $token;
        return $token;
    }
}
