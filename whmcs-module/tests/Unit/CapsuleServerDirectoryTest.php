<?php

declare(strict_types=1);

namespace WHMCS\Module\Server\OpenClaw\Tests\Unit;

use WHMCS\Database\Capsule;
use WHMCS\Module\Server\OpenClaw\Tests\Support\ModuleTestCase;
use WHMCS\Module\Server\OpenClaw\Tests\Support\WhmcsRecorder;
use WHMCS\Module\Server\OpenClaw\Whmcs\CapsuleServerDirectory;
use WHMCS\Module\Server\OpenClaw\Whmcs\LocalApi;

/** Reading WHMCS's server and service tables (tblservers, tblhosting) into module parameters. */
final class CapsuleServerDirectoryTest extends ModuleTestCase
{
    protected function setUp(): void
    {
        parent::setUp();
        $server = static fn (int $id, string $type, int $disabled): object => (object) [
            'id' => $id, 'type' => $type, 'disabled' => $disabled, 'hostname' => 'https://k8s-' . $id . ':6443',
            'ipaddress' => '10.0.0.' . $id, 'port' => '6443', 'username' => 'ns-' . $id,
            'password' => 'encrypted-' . $id,
            'accesshash' => 'pem-' . $id, 'secure' => 1,
        ];
        $service = static fn (int $id, int $server, string $status): object => (object) [
            'id' => $id, 'server' => $server, 'domainstatus' => $status, 'dedicatedip' => '198.51.100.' . $id,
            'assignedips' => '', 'domain' => 'd' . $id . '.example.com', 'password' => 'not-for-the-module',
        ];
        Capsule::$tables = [
            'tblservers' => [$server(1, 'openclaw', 0), $server(2, 'openclaw', 1), $server(3, 'cpanel', 0)],
            'tblhosting' => [
                $service(10, 1, 'Active'), $service(11, 1, 'Suspended'), $service(12, 1, 'Terminated'),
                $service(13, 3, 'Active'),
            ],
        ];
        WhmcsRecorder::$localApiAnswers['DecryptPassword'] = ['result' => 'success', 'password' => 'decrypted-token'];
    }

    protected function tearDown(): void
    {
        Capsule::$tables = [];
        parent::tearDown();
    }

    public function testEnabledServersOfThisModuleAsModuleParams(): void
    {
        $servers = (new CapsuleServerDirectory(new LocalApi()))->servers();
        self::assertSame([[
            'serverid' => 1,
            'serverhostname' => 'https://k8s-1:6443',
            'serverip' => '10.0.0.1',
            'serverport' => '6443',
            'serverusername' => 'ns-1',
            'serverpassword' => 'decrypted-token',
            'serveraccesshash' => 'pem-1',
            'serversecure' => true,
        ]], $servers);
        self::assertSame([['password2' => 'encrypted-1']], WhmcsRecorder::localApi('DecryptPassword'));
    }

    public function testOneServerById(): void
    {
        $directory = new CapsuleServerDirectory(new LocalApi());
        self::assertSame('ns-1', $directory->server(1)['serverusername'] ?? null);
        self::assertNull($directory->server(3), 'a server of another module');
        self::assertNull($directory->server(99));
    }

    public function testActiveAndSuspendedServicesOfAServer(): void
    {
        $services = (new CapsuleServerDirectory(new LocalApi()))->services(1);
        self::assertSame([
            10 => ['dedicatedip' => '198.51.100.10', 'assignedips' => '', 'domain' => 'd10.example.com'],
            11 => ['dedicatedip' => '198.51.100.11', 'assignedips' => '', 'domain' => 'd11.example.com'],
        ], $services);
    }

    public function testUsageIsWrittenToThatServiceOnThatServerOnly(): void
    {
        $directory = new CapsuleServerDirectory(new LocalApi());
        $directory->recordUsage(1, 10, ['diskusage' => 5, 'bwusage' => 7]);
        $directory->recordUsage(1, 13, ['diskusage' => 99]);  // service 13 is on server 3: untouched
        [$service10, , , $service13] = Capsule::$tables['tblhosting'];
        self::assertSame(5, $service10->diskusage);
        self::assertSame(7, $service10->bwusage);
        self::assertMatchesRegularExpression('/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/', $service10->lastupdate);
        self::assertFalse(isset(Capsule::$tables['tblhosting'][1]->diskusage), 'only service 10');
        self::assertFalse(isset($service13->diskusage));
    }

    public function testDecryptFailureIsReadable(): void
    {
        WhmcsRecorder::$localApiAnswers['DecryptPassword'] = ['result' => 'error', 'message' => 'Invalid password'];
        $this->expectExceptionMessage('WHMCS DecryptPassword failed: Invalid password');
        (new CapsuleServerDirectory(new LocalApi()))->servers();
    }
}
