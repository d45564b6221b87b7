<?php

declare(strict_types=1);

namespace WHMCS\Module\Server\OpenClaw\Tests\Support;

/**
 * Stand-in for the service model WHMCS passes as `$params['model']`: `domainstatus` and
 * `serviceProperties->save([...])`, which it records.
 */
final class RecordingServiceModel
{
    public object $serviceProperties;

    public function __construct(public string $domainstatus = 'Active')
    {
        $this->serviceProperties = new class {
            /** @var list<array<string, string>> */
            public array $saved = [];

            /** @param array<string, string> $fields */
            public function save(array $fields): void
            {
                $this->saved[] = $fields;
            }
        };
    }

    /** @return list<array<string, string>> */
    public function saved(): array
    {
        /** @var list<array<string, string>> $saved */
        $saved = $this->serviceProperties->saved ?? [];
        return $saved;
    }
}
