<?php

declare(strict_types=1);

namespace WHMCS\Module\Server\OpenClaw\Tests\Unit;

use DOMDocument;
use DOMElement;
use ErrorException;
use WHMCS\Module\Server\OpenClaw\Tests\Support\FakeTransport;
use WHMCS\Module\Server\OpenClaw\Tests\Support\ModuleTestCase;
use WHMCS\Module\Server\OpenClaw\Tests\Support\SmartyPages;

/**
 * The client-area templates rendered by the real Smarty (Debian's smarty3 or smarty4 package; which
 * one: OPENCLAW_TEST_SMARTY, default smarty4) with exactly the variables openclaw_ClientArea returns,
 * plus the two WHMCS itself provides on the product page ($serviceid, $token).
 *
 * Undefined variables are errors here (Smarty reports them as PHP warnings; the handler turns every
 * warning into an exception), and output is parsed as HTML: a hostile value in status must show up as
 * text, never as markup, attributes or a javascript: link. Auto-escaping stays off, as in WHMCS, so
 * a missing |escape fails.
 */
final class TemplatesTest extends ModuleTestCase
{
    private const INSTANCE = '/apis/clawhost.dev/v1alpha1/namespaces/clawhost/openclawinstances/whmcs-42';
    private const HOSTILE = '"><img src=x onerror=alert(1)><script>alert(2)</script>\'';

    public function testBeforeCreation(): void
    {
        $html = $this->renderClientArea(self::params());
        self::assertStringContainsString('being prepared', $html);
    }

    public function testSettingUp(): void
    {
        openclaw_CreateAccount(self::params());
        $html = $this->renderClientArea(self::params());
        self::assertStringContainsString('Setting up', $html);
        self::assertSame(['reinstall', 'updatecredentials'], $this->buttons($html));
        self::assertStringNotContainsString('Open the Control UI', $html);
    }

    public function testReadyWithRequestsBillingAndCredentials(): void
    {
        openclaw_CreateAccount(self::params());
        $this->api->objects[self::INSTANCE]['status'] = self::readyStatus();
        $this->api->objects[self::INSTANCE]['spec']['env'] = [
            ['name' => 'ANTHROPIC_API_KEY', 'secretKeyRef' => ['name' => 'whmcs-42-anthropic-0', 'key' => 'value']],
        ];
        $this->api->objects[self::INSTANCE]['metadata']['annotations'] = [
            'clawhost.dev/reboot-requested-at' => '2026-12-03T10:00:00.000000Z',
            'clawhost.dev/approve-devices-requested-at' => '2026-12-03T11:00:00.000000Z',
        ];
        $this->api->objects[self::INSTANCE]['status']['lastHandledRebootAt'] = '2026-12-03T10:00:00.000000Z';
        $html = $this->renderClientArea(self::params());
        self::assertSame(
            ['reboot', 'approvedevices', 'backupnow', 'reinstall', 'updatecredentials'],
            $this->buttons($html),
        );
        self::assertMatchesRegularExpression('#Reboot</td>\s*<td>done#', $html);
        self::assertMatchesRegularExpression('#Device approval</td>\s*<td>in progress#', $html);
        self::assertMatchesRegularExpression('#Server type</td><td>cx23#', $html);
        self::assertMatchesRegularExpression('#Anthropic API key</td><td>stored#', $html);
        self::assertStringContainsString('dosinglesignon=1', $html);
        self::assertStringNotContainsString(self::GATEWAY_TOKEN . '#', $html, 'the SSO link carries no token');
    }

    public function testHibernatedWithCustomerHibernate(): void
    {
        $params = self::params(['configoption10' => 'on']);
        openclaw_CreateAccount($params);
        $this->api->objects[self::INSTANCE]['status'] = self::readyStatus();
        self::assertSame('success', openclaw_hibernate($params));
        $this->api->objects[self::INSTANCE]['status']['phase'] = 'Suspended';
        $html = $this->renderClientArea($params);
        self::assertStringContainsString('Hibernated', $html);
        self::assertSame(['wake', 'updatecredentials'], $this->buttons($html));

        // Suspended for non-payment (also hibernating, by the product's Suspend Mode): no Wake button.
        $this->api->objects[self::INSTANCE]['metadata']['annotations'] = [];
        self::assertSame(['updatecredentials'], $this->buttons($this->renderClientArea($params)));
    }

    public function testBackupsWithARestoreButtonEach(): void
    {
        openclaw_CreateAccount(self::params(['configoption11' => 'Daily']));
        $this->api->objects[self::INSTANCE]['status'] = self::readyStatus() + ['backups' => BackupsTest::backups()];
        $html = $this->renderClientArea(self::params());
        self::assertStringContainsString('Schedule: Daily, keep 7', $html);
        self::assertMatchesRegularExpression('#2026-12-04T01:00:00Z</td>\s*<td>1.5 GiB</td>\s*<td>On demand#', $html);
        self::assertSame(
            ['restorebackup', 'restorebackup', 'reboot', 'approvedevices', 'backupnow', 'reinstall',
                'updatecredentials'],
            $this->buttons($html),
        );
        $chosen = [];
        foreach (self::dom($html)->getElementsByTagName('input') as $input) {
            if ($input->getAttribute('name') === 'openclaw_backup') {
                $chosen[] = $input->getAttribute('value');
            }
        }
        self::assertSame(array_column(BackupsTest::backups(), 'id'), $chosen, 'each form names its backup');

        // While a restore runs there is no restore button, and the page says what is being restored.
        $this->api->objects[self::INSTANCE]['spec']['restoreFrom'] = ['instance' => 'whmcs-42', 'backup' => 'latest'];
        $html = $this->renderClientArea(self::params());
        self::assertStringContainsString('Restoring backup latest', $html);
        self::assertNotContains('restorebackup', $this->buttons($html));
    }

    public function testHostileBackupEntriesCannotInjectMarkup(): void
    {
        openclaw_CreateAccount(self::params());
        $backups = BackupsTest::backups();
        $backups[0] = ['id' => self::HOSTILE, 'takenAt' => self::HOSTILE, 'kind' => self::HOSTILE,
            'sizeBytes' => self::HOSTILE];
        $status = self::readyStatus() + ['backups' => $backups, 'backupInProgress' => ['kind' => self::HOSTILE]];
        $status['conditions'][] = ['type' => 'BackedUp', 'status' => 'False', 'reason' => 'x',
            'message' => self::HOSTILE, 'lastTransitionTime' => '2026-12-04T00:00:00Z'];
        $this->api->objects[self::INSTANCE]['status'] = $status;
        $this->api->objects[self::INSTANCE]['spec']['restoreFrom'] = ['instance' => 'x', 'backup' => self::HOSTILE];
        $html = $this->renderClientArea(self::params());
        self::assertNoInjectedMarkup($html);
        self::assertStringContainsString(htmlspecialchars(self::HOSTILE, ENT_QUOTES), $html, 'shown, as text');
    }

    public function testTheErrorTemplate(): void
    {
        $this->api->objects = [];
        $this->useTransport(new FakeTransport(static fn () => FakeTransport::status(500, 'InternalError', 'x')));
        $html = $this->renderClientArea(self::params());
        self::assertStringContainsString('temporarily unavailable', $html);
    }

    public function testAMissingVariableFailsTheRender(): void
    {
        openclaw_CreateAccount(self::params());
        $this->api->objects[self::INSTANCE]['status'] = self::readyStatus();
        $page = openclaw_ClientArea(self::params());
        $required = ['url', 'statusLabel', 'actions', 'credentials', 'backups', 'backupSchedule', 'restoreState'];
        foreach ($required as $variable) {
            $vars = $page['templateVariables'];
            unset($vars[$variable]);
            try {
                self::render($page['tabOverviewModuleOutputTemplate'], $vars + SmartyPages::WHMCS_VARIABLES);
                self::fail('rendering without $' . $variable . ' must fail');
            } catch (ErrorException $error) {
                self::assertStringContainsString($variable, $error->getMessage());
            }
        }
    }

    public function testHostileStatusCannotInjectMarkup(): void
    {
        openclaw_CreateAccount(self::params());
        $hostile = self::HOSTILE;
        $status = self::readyStatus();
        $status['message'] = $hostile;
        $status['ipv4'] = $hostile;
        $status['ipv6'] = $hostile;
        $status['billing'] = ['serverType' => $hostile, $hostile => 'x'];
        $status['lastHandledRebootAt'] = 'other';
        $this->api->objects[self::INSTANCE]['status'] = $status;
        $this->api->objects[self::INSTANCE]['metadata']['annotations'] = [
            'clawhost.dev/reboot-requested-at' => $hostile,
        ];
        $html = $this->renderClientArea(self::params());
        self::assertNoInjectedMarkup($html);
        self::assertStringContainsString(htmlspecialchars($hostile, ENT_QUOTES), $html, 'shown, as text');

        // Not ready: the host name is shown instead of the link; a javascript: URL never becomes a link.
        $status['conditions'] = [];
        $status['url'] = 'javascript:alert(3)';
        $this->api->objects[self::INSTANCE]['status'] = $status;
        $this->api->objects[self::INSTANCE]['spec']['hostname'] = $hostile;
        $html = $this->renderClientArea(self::params());
        self::assertNoInjectedMarkup($html);
        self::assertStringNotContainsString('javascript:alert(3)', $html);
    }

    public function testHostileStatusInTheAdminTab(): void
    {
        openclaw_CreateAccount(self::params());
        $status = self::readyStatus();
        foreach (['message', 'url', 'ipv4', 'serverName', 'phase'] as $field) {
            $status[$field] = self::HOSTILE;
        }
        $status['conditions'][0]['message'] = self::HOSTILE;
        $status['billing'] = [self::HOSTILE => self::HOSTILE];
        $this->api->objects[self::INSTANCE]['status'] = $status;
        $this->api->objects[self::INSTANCE]['metadata']['annotations'] = [
            'clawhost.dev/reboot-requested-at' => self::HOSTILE,
        ];
        $this->api->objects[self::INSTANCE]['spec']['env'] = [['name' => self::HOSTILE, 'secretKeyRef' => []]];
        $fields = openclaw_AdminServicesTabFields(self::params());
        self::assertNoInjectedMarkup('<table>' . implode('', array_map(
            static fn (string $label, string $html): string => '<tr><td>' . $label . '</td><td>' . $html . '</td></tr>',
            array_keys($fields),
            $fields,
        )) . '</table>');
    }

    /** @param array<string, mixed> $params */
    private function renderClientArea(array $params): string
    {
        return SmartyPages::clientArea(openclaw_ClientArea($params));
    }

    /** @param array<string, mixed> $variables */
    private static function render(string $template, array $variables): string
    {
        return SmartyPages::render($template, $variables);
    }

    /** @return list<string> the module functions the page's forms call */
    private function buttons(string $html): array
    {
        $functions = [];
        foreach (self::dom($html)->getElementsByTagName('input') as $input) {
            if ($input->getAttribute('name') === 'a') {
                $functions[] = $input->getAttribute('value');
            }
        }
        return $functions;
    }

    private static function assertNoInjectedMarkup(string $html): void
    {
        $dom = self::dom($html);
        foreach (['script', 'img', 'iframe', 'object', 'svg'] as $tag) {
            self::assertSame(0, $dom->getElementsByTagName($tag)->length, '<' . $tag . '> in the output');
        }
        foreach ($dom->getElementsByTagName('*') as $element) {
            self::assertInstanceOf(DOMElement::class, $element);
            foreach ($element->attributes ?? [] as $attribute) {
                $name = strtolower($attribute->nodeName);
                if (str_starts_with($name, 'on')) {
                    self::assertSame('onclick', $name, 'event handler attribute ' . $name);
                    self::assertMatchesRegularExpression("/^return confirm\\('[^'<>]*'\\);$/", $attribute->nodeValue);
                }
                if (in_array($name, ['href', 'src', 'action'], true)) {
                    self::assertDoesNotMatchRegularExpression('/^\s*javascript:/i', (string) $attribute->nodeValue);
                }
            }
        }
    }

    private static function dom(string $html): DOMDocument
    {
        $dom = new DOMDocument();
        $previous = libxml_use_internal_errors(true);
        $dom->loadHTML('<!DOCTYPE html><html><body>' . $html . '</body></html>');
        libxml_clear_errors();
        libxml_use_internal_errors($previous);
        return $dom;
    }

    /** @return array<string, mixed> */
    private static function readyStatus(): array
    {
        return [
            'phase' => 'Running',
            'message' => 'ready',
            'url' => 'https://whmcs-42.claw.example.com/',
            'ipv4' => '203.0.113.10',
            'ipv6' => '2001:db8::1',
            'billing' => ['serverType' => 'cx23', 'snapshotSizeGB' => 0],
            'conditions' => [[
                'type' => 'Ready',
                'status' => 'True',
                'reason' => 'Ready',
                'message' => 'ok',
                'lastTransitionTime' => '2026-01-01T00:00:00Z',
            ]],
        ];
    }
}
