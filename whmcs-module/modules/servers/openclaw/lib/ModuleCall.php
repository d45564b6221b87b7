<?php

declare(strict_types=1);

namespace WHMCS\Module\Server\OpenClaw;

use Closure;
use Throwable;
use WHMCS\Module\Server\OpenClaw\Kube\FailureDescriber;

/**
 * The contract every module function keeps with WHMCS: 'success' or a readable, masked message, never
 * an exception.
 */
final class ModuleCall
{
    /**
     * Runs one action: 'success', or the readable (and masked) reason it failed.
     *
     * @param Closure(): mixed $work
     */
    public static function guard(ServiceContext $ctx, Closure $work): string
    {
        try {
            $work();
            return 'success';
        } catch (ModuleError $error) {
            return $ctx->log->mask($error->getMessage());
        } catch (Throwable $error) {
            $message = 'Unexpected error in the OpenClaw module (' . get_class($error) . ': '
                . FailureDescriber::clip($error->getMessage(), 300) . ').';
            $ctx->log->record('internal error', '', $message);
            return $ctx->log->mask($message);
        }
    }
}
