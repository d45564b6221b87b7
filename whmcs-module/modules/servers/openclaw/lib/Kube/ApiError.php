<?php

declare(strict_types=1);

namespace WHMCS\Module\Server\OpenClaw\Kube;

use WHMCS\Module\Server\OpenClaw\ModuleError;

/** The API server refused a request; the message is already readable, the fields let callers decide. */
final class ApiError extends ModuleError
{
    public function __construct(
        string $message,
        public readonly int $httpStatus,
        public readonly string $reason,
        public readonly bool $objectMissing,
    ) {
        parent::__construct($message);
    }
}
