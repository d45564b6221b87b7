<?php

/**
 * Class loader for the module's own namespace.
 *
 * WHMCS autoloads lib/ for server modules, but hooks.php, the cron and the test suite also run
 * outside that loader, so the module registers its own: the module then works the same everywhere
 * and needs no Composer (WHMCS ships its own Guzzle/Illuminate that a vendor/ copy could clash with).
 */

declare(strict_types=1);

spl_autoload_register(static function (string $class): void {
    $prefix = 'WHMCS\\Module\\Server\\OpenClaw\\';
    if (strncmp($class, $prefix, strlen($prefix)) !== 0) {
        return;
    }
    $relative = str_replace('\\', DIRECTORY_SEPARATOR, substr($class, strlen($prefix)));
    $file = __DIR__ . DIRECTORY_SEPARATOR . $relative . '.php';
    if (is_file($file)) {
        require_once $file;
    }
});
