<?php

declare(strict_types=1);

namespace WHMCS\Module\Server\OpenClaw\Tests\Support;

use ErrorException;
use RuntimeException;
use Smarty;

/**
 * The module's templates rendered by the real Smarty (Debian's smarty3 or smarty4 package; which one:
 * OPENCLAW_TEST_SMARTY, default smarty4), as WHMCS renders them: auto-escaping off, so a missing |escape
 * shows. Undefined variables are errors (Smarty reports them as PHP warnings; every warning throws).
 */
final class SmartyPages
{
    private const TEMPLATES = __DIR__ . '/../../modules/servers/openclaw/templates/';
    /** What WHMCS assigns on clientarea.php?action=productdetails besides the module's variables. */
    public const WHMCS_VARIABLES = ['serviceid' => 42, 'token' => 'csrf-token-value'];

    /**
     * The product page of an openclaw_ClientArea answer, with WHMCS's own variables.
     *
     * @param array<string, mixed> $page
     * @param array<string, mixed> $whmcs
     */
    public static function clientArea(array $page, array $whmcs = self::WHMCS_VARIABLES): string
    {
        return self::render($page['tabOverviewModuleOutputTemplate'], $page['templateVariables'] + $whmcs);
    }

    /** @param array<string, mixed> $variables */
    public static function render(string $template, array $variables): string
    {
        $smarty = self::smarty();
        foreach ($variables as $name => $value) {
            $smarty->assign($name, $value);
        }
        set_error_handler(static function (int $level, string $message, string $file, int $line): bool {
            if ($level === E_DEPRECATED || $level === E_USER_DEPRECATED) {
                return true; // Smarty 3.1 on PHP 8.2: its own dynamic properties, not our templates
            }
            throw new ErrorException($message, 0, $level, $file, $line);
        });
        try {
            return $smarty->fetch(self::TEMPLATES . basename($template));
        } finally {
            restore_error_handler();
        }
    }

    private static function smarty(): Smarty
    {
        $package = getenv('OPENCLAW_TEST_SMARTY') ?: 'smarty4';
        $class = '/usr/share/php/' . $package . '/Smarty.class.php';
        if (!class_exists(Smarty::class, false)) {
            if (!is_file($class)) {
                throw new RuntimeException('Smarty is not installed at ' . $class . ': apt-get install '
                    . $package . ' (make system-deps)');
            }
            require_once $class;
        }
        $smarty = new Smarty();
        $smarty->setCompileDir(sys_get_temp_dir() . '/openclaw-smarty-' . $package . '-' . getmypid());
        $smarty->error_reporting = E_ALL;
        $smarty->escape_html = false;
        return $smarty;
    }
}
