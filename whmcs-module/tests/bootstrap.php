<?php

/**
 * PHPUnit bootstrap: WHMCS itself is not needed. Its global functions are replaced by recording
 * stand-ins, then the module is loaded exactly as WHMCS loads it (main file, then hooks.php).
 */

declare(strict_types=1);

require __DIR__ . '/Support/whmcs_functions.php';
require __DIR__ . '/Support/WhmcsDatabase/Capsule.php';
require __DIR__ . '/Support/WhmcsDatabase/CapsuleQuery.php';

spl_autoload_register(static function (string $class): void {
    $prefix = 'WHMCS\\Module\\Server\\OpenClaw\\Tests\\';
    if (strncmp($class, $prefix, strlen($prefix)) === 0) {
        $file = __DIR__ . '/' . str_replace('\\', '/', substr($class, strlen($prefix))) . '.php';
        if (is_file($file)) {
            require_once $file;
        }
    }
});

require __DIR__ . '/../modules/servers/openclaw/openclaw.php';
require __DIR__ . '/../modules/servers/openclaw/hooks.php';
