<?php

declare(strict_types=1);

namespace WHMCS\Module\Server\OpenClaw\Tests\Integration;

use PHPUnit\Framework\Attributes\Group;
use WHMCS\Module\Server\OpenClaw\Kube\ClusterSettings;
use WHMCS\Module\Server\OpenClaw\Kube\CurlTransport;
use WHMCS\Module\Server\OpenClaw\Runtime;
use WHMCS\Module\Server\OpenClaw\Tests\Support\FakeServerDirectory;
use WHMCS\Module\Server\OpenClaw\Tests\Support\IntegrationTestCase;
use WHMCS\Module\Server\OpenClaw\Tests\Support\WhmcsRecorder;

/**
 * The module's functions against kube-apiserver with the least-privilege WHMCS token: the real
 * server-side apply, merge patch, validation and RBAC semantics.
 *
 * @group integration
 */
#[Group('integration')]
final class LifecycleAgainstApiServerTest extends IntegrationTestCase
{
    public function testTestConnectionPassesWithTheRole(): void
    {
        self::assertSame(['success' => true, 'error' => ''], openclaw_TestConnection($this->cluster->params(1)));
    }

    public function testCreateTwiceYieldsOneInstanceWithSpecLabelsAndSecret(): void
    {
        $id = self::newServiceId();
        $params = $this->cluster->params($id, ['configoption6' => '2026.9.5', 'configoption7' => 'on']);
        self::assertSame('success', openclaw_CreateAccount($params));
        $token = $this->generatedToken();
        // WHMCS now holds the token as the service password and the host name as the domain.
        $again = ['password' => $token, 'domain' => 'whmcs-' . $id . '.claw.example.com'];
        self::assertSame('success', openclaw_CreateAccount(array_replace($params, $again)));
        self::assertSame('success', openclaw_CreateAccount(array_replace($params, $again)));

        $list = $this->cluster->read('/apis/clawhost.dev/v1alpha1/namespaces/' . $this->cluster->namespace
            . '/openclawinstances?labelSelector=clawhost.dev%2Fwhmcs-service-id%3D' . $id);
        self::assertCount(1, $list['items']);
        $instance = $list['items'][0];
        self::assertSame('whmcs-' . $id, $instance['metadata']['name']);
        self::assertSame([
            'app.kubernetes.io/managed-by' => 'whmcs',
            'clawhost.dev/whmcs-client-id' => '7',
            'clawhost.dev/whmcs-service-id' => (string) $id,
        ], $instance['metadata']['labels']);
        $spec = $instance['spec'];
        self::assertSame('whmcs-' . $id . '.claw.example.com', $spec['hostname']);
        self::assertSame('cx23', $spec['serverType']);
        self::assertSame('fsn1', $spec['location']);
        self::assertSame('ubuntu-24.04', $spec['image']);
        self::assertSame('2026.9.5', $spec['openclawVersion']);
        self::assertTrue($spec['backups']);
        self::assertFalse($spec['suspended'], 'defaulted by the CRD');
        self::assertEquals(['serviceId' => $id, 'clientId' => 7], $spec['whmcs']);
        self::assertSame(1, $instance['metadata']['generation'], 'repeating Create changed nothing');
        self::assertStringNotContainsString(
            $token,
            (string) json_encode($instance),
            'the token is not in the resource',
        );

        $secretName = $spec['gatewayTokenSecretRef']['name'];
        self::assertSame('token', $spec['gatewayTokenSecretRef']['key']);
        $secret = $this->cluster->read($this->cluster->secretPath($secretName));
        self::assertSame(base64_encode($token), $secret['data']['token']);
        self::assertSame('whmcs', $secret['metadata']['labels']['app.kubernetes.io/managed-by']);
        self::assertSame($instance['metadata']['uid'], $secret['metadata']['ownerReferences'][0]['uid']);

        $managers = array_column($instance['metadata']['managedFields'], 'manager');
        self::assertSame(['whmcs-openclaw'], array_values(array_unique($managers)));
        self::assertNotEmpty(WhmcsRecorder::$moduleLog, 'API calls were logged');
    }

    public function testSuspendUnsuspendAndChangePackage(): void
    {
        $id = self::newServiceId();
        $params = $this->cluster->params($id);
        self::assertSame('success', openclaw_CreateAccount($params));
        $params['password'] = $this->generatedToken();
        $path = $this->cluster->instancePath($id);
        $secretBefore = $this->cluster->read($path)['spec']['gatewayTokenSecretRef']['name'];

        self::assertSame('success', openclaw_SuspendAccount($params));
        self::assertTrue($this->cluster->read($path)['spec']['suspended']);

        // An upgrade while suspended must not unsuspend: apply does not own spec.suspended.
        $upgraded = array_replace($params, ['configoptions' => ['Server Type' => 'cx33', 'Backups' => '1']]);
        self::assertSame('success', openclaw_ChangePackage($upgraded));
        $spec = $this->cluster->read($path)['spec'];
        self::assertSame('cx33', $spec['serverType']);
        self::assertTrue($spec['backups']);
        self::assertTrue($spec['suspended']);
        self::assertSame($secretBefore, $spec['gatewayTokenSecretRef']['name']);

        self::assertSame('success', openclaw_UnsuspendAccount($params));
        self::assertFalse($this->cluster->read($path)['spec']['suspended']);

        $moved = array_replace($params, ['configoptions' => ['Location' => 'hel1']]);
        $refusal = openclaw_ChangePackage($moved);
        self::assertStringContainsString('field spec.location', $refusal);
        self::assertStringContainsString('location is immutable', $refusal);
    }

    public function testRequestsAndRotation(): void
    {
        $id = self::newServiceId();
        $params = $this->cluster->params($id);
        openclaw_CreateAccount($params);
        $params['password'] = $this->generatedToken();
        $path = $this->cluster->instancePath($id);

        foreach (['reboot' => 'reboot', 'reinstall' => 'reinstall', 'resync' => 'reconcile'] as $button => $name) {
            self::assertSame('success', ('openclaw_' . $button)($params));
            self::assertArrayHasKey(
                'clawhost.dev/' . $name . '-requested-at',
                $this->cluster->read($path)['metadata']['annotations'],
            );
        }

        $rotated = str_repeat('r0tated-', 5);
        $this->gatewayTokens[] = $rotated;
        self::assertSame('success', openclaw_ChangePassword(array_replace($params, ['password' => $rotated])));
        $secretName = $this->cluster->read($path)['spec']['gatewayTokenSecretRef']['name'];
        self::assertSame(
            base64_encode($rotated),
            $this->cluster->read($this->cluster->secretPath($secretName))['data']['token'],
        );
    }

    public function testClientAreaAdminTabAndCronShowWhatTheOperatorObserved(): void
    {
        $id = self::newServiceId();
        $params = $this->cluster->params($id);
        openclaw_CreateAccount($params);
        $params['password'] = $this->generatedToken();
        $params['domain'] = 'whmcs-' . $id . '.claw.example.com';
        self::assertFalse(openclaw_ClientArea($params)['templateVariables']['ready']);

        // Stand in for the operator (the operator end-to-end test does this for real): write status.
        $status = ['status' => [
            'phase' => 'Running', 'url' => 'https://' . $params['domain'] . '/', 'ipv4' => '203.0.113.7',
            'ipv6' => '2001:db8::7', 'serverId' => 99, 'observedGeneration' => 1,
            'conditions' => [['type' => 'Ready', 'status' => 'True', 'reason' => 'Ready', 'message' => 'up',
                'lastTransitionTime' => '2026-01-01T00:00:00Z']],
        ]];
        $patched = $this->cluster->asVerifier(
            'PATCH',
            $this->cluster->instancePath($id, '/status'),
            (string) json_encode($status),
            'application/merge-patch+json',
        );
        self::assertSame(200, $patched->status, $patched->body);

        $vars = openclaw_ClientArea($params)['templateVariables'];
        self::assertTrue($vars['ready']);
        self::assertSame('https://' . $params['domain'] . '/', $vars['url']);
        self::assertSame('203.0.113.7', $vars['ipv4']);
        self::assertSame($params['password'], $vars['gatewayToken']);
        self::assertSame('Running / Ready: yes', openclaw_AdminServicesTabFields($params)['Phase']);

        $server = ['serverhostname' => $this->cluster->server, 'serverpassword' => $this->cluster->token,
            'serverusername' => $this->cluster->namespace, 'serveraccesshash' => $this->cluster->caPem];
        $directory = new FakeServerDirectory(
            [1 => $server],
            [1 => [$id => ['dedicatedip' => '', 'assignedips' => '', 'domain' => $params['domain']]]],
        );
        Runtime::use(static fn (ClusterSettings $s): CurlTransport => new CurlTransport($s), $directory);
        $summary = hook_openclaw_sync_status([]);
        self::assertSame([], $summary['errors']);
        self::assertContains(
            ['serviceid' => $id, 'dedicatedip' => '203.0.113.7', 'assignedips' => '2001:db8::7'],
            WhmcsRecorder::localApi('UpdateClientProduct'),
        );
    }
}
