<?php

declare(strict_types=1);

namespace WHMCS\Module\Server\OpenClaw\Tests\Unit;

use PHPUnit\Framework\Attributes\DataProvider;
use WHMCS\Module\Server\OpenClaw\Instance\CustomerSecrets;
use WHMCS\Module\Server\OpenClaw\ModuleError;
use WHMCS\Module\Server\OpenClaw\Tests\Support\ModuleTestCase;
use WHMCS\Module\Server\OpenClaw\Tests\Support\WhmcsRecorder;
use WHMCS\Module\Server\OpenClaw\Whmcs\StatusSync;
use WHMCS\Module\Server\OpenClaw\Whmcs\UsageReport;

/** SSO, customer credentials, usage and the cron's grouping, without a cluster. */
final class Whmcs9Test extends ModuleTestCase
{
    private const INSTANCE = '/apis/clawhost.dev/v1alpha1/namespaces/clawhost/openclawinstances/whmcs-42';
    private const KEY = 'sk-ant-unit-test-key-0123456789';

    public function testSingleSignOnPutsTheTokenOnlyInTheFragment(): void
    {
        openclaw_CreateAccount(self::params());
        self::assertFalse(openclaw_ServiceSingleSignOn(self::params())['success'], 'not ready yet');
        $this->api->objects[self::INSTANCE]['status'] = [
            'url' => 'https://whmcs-42.claw.example.com/',
            'conditions' => [['type' => 'Ready', 'status' => 'True']],
        ];
        WhmcsRecorder::reset();
        $sso = openclaw_ServiceSingleSignOn(self::params());
        self::assertSame(['success' => true, 'redirectTo' => 'https://whmcs-42.claw.example.com/#token='
            . rawurlencode(self::GATEWAY_TOKEN)], $sso);
        self::assertArrayNotHasKey('query', parse_url($sso['redirectTo']) ?: []);
        self::assertLogHasNoSecrets(self::GATEWAY_TOKEN);
        $other = openclaw_ServiceSingleSignOn(self::params(['password' => str_repeat('y', 40)]));
        self::assertFalse($other['success'], 'a token the instance does not use is never handed over');
    }

    public function testSingleSignOnRefusesAStatusUrlThatIsNotAPlainHttpsOrigin(): void
    {
        openclaw_CreateAccount(self::params());
        foreach (['http://x.example/', 'https://x.example/?a=b', 'javascript:alert(1)'] as $url) {
            $this->api->objects[self::INSTANCE]['status'] = [
                'url' => $url,
                'conditions' => [['type' => 'Ready', 'status' => 'True']],
            ];
            self::assertFalse(openclaw_ServiceSingleSignOn(self::params())['success'], $url);
        }
    }

    public function testCredentialsAreValidatedWithoutEchoingThem(): void
    {
        try {
            CustomerSecrets::fromValues(['Model Provider' => 'acme', 'Model API Key' => self::KEY]);
            self::fail('unknown provider accepted');
        } catch (ModuleError $error) {
            self::assertStringContainsString('"Model Provider" must be one of anthropic, openai', $error->getMessage());
            self::assertStringNotContainsString(self::KEY, $error->getMessage());
        }
        try {
            CustomerSecrets::fromValues(['Telegram Bot Token' => 'has space inside']);
            self::fail('a token with spaces accepted');
        } catch (ModuleError $error) {
            self::assertStringStartsWith('"Telegram Bot Token" must be 8 to 4096', $error->getMessage());
            self::assertStringNotContainsString('has space', $error->getMessage());
        }
        $secrets = CustomerSecrets::fromValues(['Model Provider' => 'google|Gemini', 'Model API Key' => self::KEY]);
        self::assertSame(
            [['env' => 'GEMINI_API_KEY', 'field' => 'Model API Key', 'value' => self::KEY]],
            $secrets->entries,
        );
    }

    public function testTheProviderMayBeAConfigurableOption(): void
    {
        $secrets = CustomerSecrets::fromCustomFields(self::params([
            'configoptions' => ['Model Provider' => 'openrouter|OpenRouter'],
            'customfields' => ['Model API Key' => self::KEY],
        ]));
        self::assertSame('OPENROUTER_API_KEY', $secrets->entries[0]['env']);
    }

    public function testCreateWithABadCredentialFailsReadablyAndLogsNoValue(): void
    {
        $params = self::params(['customfields' => ['Model Provider' => 'acme', 'Model API Key' => self::KEY]]);
        $result = openclaw_CreateAccount($params);
        self::assertStringStartsWith('"Model Provider" must be one of', $result);
        self::assertLogHasNoSecrets(self::KEY, self::GATEWAY_TOKEN, self::CLUSTER_TOKEN);
    }

    /** @return iterable<string, array{array<mixed>, array<int, array<string, int>>}> */
    public static function usage(): iterable
    {
        $instance = static fn (string $id, array $usage): array => [
            'metadata' => ['labels' => ['clawhost.dev/whmcs-service-id' => $id]],
            'status' => ['usage' => $usage],
        ];
        yield 'nothing reported' => [[$instance('1', [])], []];
        yield 'disk only' => [[$instance('1', ['diskUsedBytes' => 1048576 * 5])], [1 => ['diskusage' => 5]]];
        yield 'another server' => [[$instance('9', ['diskUsedBytes' => 1048576])], []];
        yield 'negative or text ignored' => [[$instance('1', ['diskUsedBytes' => -1, 'bwusage' => 'x'])], []];
        yield 'all four' => [[$instance('2', ['diskUsedBytes' => 0, 'diskLimitBytes' => 1073741824,
            'outgoingTrafficBytes' => 1048576, 'includedTrafficBytes' => 1099511627776])],
            [2 => ['diskusage' => 0, 'disklimit' => 1024, 'bwusage' => 1, 'bwlimit' => 1048576]]];
    }

    /**
     * @dataProvider usage
     * @param list<array<mixed>> $instances
     * @param array<int, array<string, int>> $expected
     */
    #[DataProvider('usage')]
    public function testUsagePlan(array $instances, array $expected): void
    {
        self::assertSame($expected, UsageReport::plan($instances, [1, 2]));
    }

    public function testServersOfOneNamespaceAreListedTogether(): void
    {
        $a = ['serverid' => 1] + self::params();
        $b = ['serverid' => 2] + self::params();
        $other = ['serverid' => 3] + self::params(['serverusername' => 'other-ns']);
        $broken = ['serverid' => 4, 'serverhostname' => ''];
        $groups = StatusSync::byNamespace([$a, $other, $b, $broken]);
        self::assertSame([[1, 2], [3], [4]], array_map(
            static fn (array $group): array => array_column($group, 'serverid'),
            $groups,
        ));
    }
}
