<?php

declare(strict_types=1);

namespace WHMCS\Module\Server\OpenClaw\Tests\Integration;

use PHPUnit\Framework\Attributes\Group;
use WHMCS\Module\Server\OpenClaw\Tests\Support\IntegrationTestCase;

/**
 * Termination, in the last file of the group on purpose: Kubernetes' garbage collector notices a
 * CRD's resources only on its next discovery (up to ~30 s after the CRD appears), so the wait for
 * the gateway Secret to go is shortest once the rest of the suite has run.
 *
 * @group integration
 */
#[Group('integration')]
final class TerminationAgainstApiServerTest extends IntegrationTestCase
{
    public function testTerminateDeletesAndRepeatsAsSuccess(): void
    {
        $id = self::newServiceId();
        $params = $this->cluster->params($id);
        openclaw_CreateAccount($params);
        $params['password'] = $this->generatedToken();
        $secretName = $this->cluster->read($this->cluster->instancePath($id))['spec']['gatewayTokenSecretRef']['name'];

        self::assertSame('success', openclaw_TerminateAccount($params));
        self::assertSame(404, $this->cluster->asVerifier('GET', $this->cluster->instancePath($id))->status);
        self::assertSame('success', openclaw_TerminateAccount($params));

        // The module may not delete Secrets; the garbage collector removes the one the instance owned.
        $deadline = microtime(true) + 90;
        $status = $this->cluster->asVerifier('GET', $this->cluster->secretPath($secretName))->status;
        while ($status === 200 && microtime(true) < $deadline) {
            usleep(200000);
            $status = $this->cluster->asVerifier('GET', $this->cluster->secretPath($secretName))->status;
        }
        self::assertSame(404, $status, 'the gateway Secret is garbage-collected with its instance');
    }
}
