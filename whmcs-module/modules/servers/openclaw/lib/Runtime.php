<?php

declare(strict_types=1);

namespace WHMCS\Module\Server\OpenClaw;

use Closure;
use WHMCS\Module\Server\OpenClaw\Kube\ClusterSettings;
use WHMCS\Module\Server\OpenClaw\Kube\CurlTransport;
use WHMCS\Module\Server\OpenClaw\Kube\Transport;
use WHMCS\Module\Server\OpenClaw\Whmcs\CapsuleServerDirectory;
use WHMCS\Module\Server\OpenClaw\Whmcs\LocalApi;
use WHMCS\Module\Server\OpenClaw\Whmcs\ServerDirectory;

/**
 * The module's two connections to the outside world: how Kubernetes is reached and where WHMCS
 * records come from. WHMCS calls plain global functions, so there is no constructor to inject
 * through; tests swap these instead (and restore them with reset()).
 */
final class Runtime
{
    /** @var (Closure(ClusterSettings): Transport)|null */
    private static ?Closure $transportFactory = null;
    private static ?ServerDirectory $directory = null;

    public static function transportFor(ClusterSettings $settings): Transport
    {
        return self::$transportFactory !== null ? (self::$transportFactory)($settings) : new CurlTransport($settings);
    }

    /** @return Closure(ClusterSettings): Transport */
    public static function transportFactory(): Closure
    {
        return static fn (ClusterSettings $settings): Transport => self::transportFor($settings);
    }

    public static function directory(): ServerDirectory
    {
        return self::$directory ??= new CapsuleServerDirectory(new LocalApi());
    }

    /** @param (Closure(ClusterSettings): Transport)|null $transportFactory */
    public static function use(?Closure $transportFactory, ?ServerDirectory $directory = null): void
    {
        self::$transportFactory = $transportFactory;
        self::$directory = $directory;
    }

    public static function reset(): void
    {
        self::use(null, null);
    }
}
