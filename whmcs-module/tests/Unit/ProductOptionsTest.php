<?php

declare(strict_types=1);

namespace WHMCS\Module\Server\OpenClaw\Tests\Unit;

use PHPUnit\Framework\Attributes\DataProvider;
use PHPUnit\Framework\TestCase;
use WHMCS\Module\Server\OpenClaw\Instance\ProductOptions;
use WHMCS\Module\Server\OpenClaw\ModuleError;

/** Product settings, configurable-option overrides and host name rules. */
final class ProductOptionsTest extends TestCase
{
    public function testDefaultsWhenNothingIsConfigured(): void
    {
        $options = ProductOptions::fromParams([]);
        self::assertSame('cx23', $options->serverType);
        self::assertSame('fsn1', $options->location);
        self::assertSame('ubuntu-24.04', $options->image);
        self::assertSame('', $options->baseDomain);
        self::assertSame('', $options->dnsZone);
        self::assertSame('', $options->openclawVersion);
        self::assertFalse($options->backups);
        self::assertSame('Delete', $options->deletionPolicy);
        self::assertSame([], $options->sshKeys);
    }

    public function testProductSettingsByPosition(): void
    {
        $options = ProductOptions::fromParams([
            'configoption1' => 'CPX21', 'configoption2' => 'hel1', 'configoption3' => 'debian-13',
            'configoption4' => '.Claw.Example.com.', 'configoption5' => 'example.com', 'configoption6' => '2026.9.5',
            'configoption7' => 'on', 'configoption8' => 'Retain',
        ]);
        self::assertSame('cpx21', $options->serverType);
        self::assertSame('hel1', $options->location);
        self::assertSame('debian-13', $options->image);
        self::assertSame('claw.example.com', $options->baseDomain);
        self::assertSame('example.com', $options->dnsZone);
        self::assertSame('2026.9.5', $options->openclawVersion);
        self::assertTrue($options->backups);
        self::assertSame('Retain', $options->deletionPolicy);
    }

    /** @return array<string, array{0: array<string, mixed>, 1: string, 2: mixed}> */
    public static function overrides(): array
    {
        return [
            'server type' => [['Server Type' => 'cx33'], 'serverType', 'cx33'],
            'value|label form' => [['Server Type' => 'cpx31|CPX31 (4 vCPU, 8 GB)'], 'serverType', 'cpx31'],
            'name case and spaces' => [[' server type ' => 'cax11'], 'serverType', 'cax11'],
            'location' => [['Location' => 'nbg1'], 'location', 'nbg1'],
            'image' => [['Image' => 'debian-12'], 'image', 'debian-12'],
            'version' => [['OpenClaw Version' => '2026.10.1'], 'openclawVersion', '2026.10.1'],
            'backups as 1' => [['Backups' => '1'], 'backups', true],
            'backups as 0 overrides product yes' => [['Backups' => '0'], 'backups', false],
            'empty choice falls back to product' => [['Server Type' => ''], 'serverType', 'cx23'],
            'base domain is not customer-selectable' => [
                ['Base Domain' => 'evil.example'],
                'baseDomain',
                'claw.example.com',
            ],
        ];
    }

    /**
     * @dataProvider overrides
     * @param array<string, mixed> $configurable
     */
    #[DataProvider('overrides')]
    public function testConfigurableOptionsOverrideProductSettings(
        array $configurable,
        string $property,
        mixed $expected,
    ): void {
        $options = ProductOptions::fromParams([
            'configoption1' => 'cx23', 'configoption4' => 'claw.example.com', 'configoption7' => 'on',
            'configoptions' => $configurable,
        ]);
        self::assertSame($expected, $options->{$property});
    }

    /** @return array<string, array{0: string, 1: string, 2: string}> */
    public static function hostnames(): array
    {
        return [
            'no domain: resource name under base' => ['claw.example.com', '', 'whmcs-42.claw.example.com'],
            'single label under base' => ['claw.example.com', 'MyBot', 'mybot.claw.example.com'],
            'full name kept' => ['claw.example.com', 'bot.customer.org', 'bot.customer.org'],
            'full name without base' => ['', 'bot.customer.org.', 'bot.customer.org'],
            'invalid characters are left to the API server' => [
                'claw.example.com',
                'bad_host!',
                'bad_host!.claw.example.com',
            ],
        ];
    }

    /** @dataProvider hostnames */
    #[DataProvider('hostnames')]
    public function testHostname(string $base, string $domain, string $expected): void
    {
        $options = ProductOptions::fromParams(['configoption4' => $base]);
        self::assertSame($expected, $options->hostname($domain, 'whmcs-42'));
    }

    public function testNoHostnameWithoutDomainOrBase(): void
    {
        $this->expectException(ModuleError::class);
        $this->expectExceptionMessage('Set "Base Domain"');
        ProductOptions::fromParams([])->hostname('', 'whmcs-42');
    }

    public function testSshKeysFromCustomField(): void
    {
        $keys = "ssh-ed25519 AAAAC3Nza one@host\r\n\n  ssh-ed25519 AAAAC3Nzb two@host  \n"
            . "ssh-ed25519 AAAAC3Nza one@host\n";
        $options = ProductOptions::fromParams(['customfields' => ['ssh public keys' => $keys]]);
        self::assertSame(['ssh-ed25519 AAAAC3Nza one@host', 'ssh-ed25519 AAAAC3Nzb two@host'], $options->sshKeys);
    }
}
