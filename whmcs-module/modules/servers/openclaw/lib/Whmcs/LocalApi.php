<?php

declare(strict_types=1);

namespace WHMCS\Module\Server\OpenClaw\Whmcs;

use WHMCS\Module\Server\OpenClaw\ModuleError;

/** WHMCS's internal API (localAPI), with failures turned into ModuleErrors. */
final class LocalApi
{
    /**
     * @param array<string, mixed> $arguments
     * @return array<mixed>
     */
    public function call(string $command, array $arguments): array
    {
        if (!function_exists('localAPI')) {
            throw new ModuleError('WHMCS localAPI is not available; ' . $command . ' cannot run outside WHMCS.');
        }
        $result = localAPI($command, $arguments);
        if (!is_array($result) || ($result['result'] ?? null) !== 'success') {
            $message = is_array($result) && is_string($result['message'] ?? null) ? $result['message'] : 'no details';
            throw new ModuleError('WHMCS ' . $command . ' failed: ' . $message);
        }
        return $result;
    }

    /** @param array<string, string> $fields */
    public function updateService(int $serviceId, array $fields): void
    {
        $this->call('UpdateClientProduct', ['serviceid' => $serviceId] + $fields);
    }
}
