<?php

declare(strict_types=1);

namespace WHMCS\Module\Server\OpenClaw;

use RuntimeException;

/**
 * A failure whose message is written for the WHMCS admin or customer who will read it.
 *
 * Every error the module expects (bad settings, API refusals, unreachable cluster) is one of these, so
 * the module functions can return the message as is. Messages never contain a token or secret.
 */
class ModuleError extends RuntimeException
{
}
