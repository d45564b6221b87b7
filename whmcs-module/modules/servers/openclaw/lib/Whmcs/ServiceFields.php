<?php

declare(strict_types=1);

namespace WHMCS\Module\Server\OpenClaw\Whmcs;

/**
 * The service's custom fields, through the service model WHMCS passes in `$params['model']`
 * (`serviceProperties->save([...])`, documented for provisioning modules).
 */
final class ServiceFields
{
    /**
     * Empties fields that held a credential once it is stored in Kubernetes, so WHMCS's database and
     * pages never show it back. Without a model (outside WHMCS) there is nothing to clear.
     *
     * @param array<mixed> $params
     * @param list<string> $fields
     */
    public static function clear(array $params, array $fields): void
    {
        $model = $params['model'] ?? null;
        if ($fields === [] || !is_object($model)) {
            return;
        }
        $properties = $model->serviceProperties ?? null;
        if (is_object($properties) && method_exists($properties, 'save')) {
            $properties->save(array_fill_keys($fields, ''));
        }
    }
}
