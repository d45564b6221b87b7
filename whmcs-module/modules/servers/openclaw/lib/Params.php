<?php

declare(strict_types=1);

namespace WHMCS\Module\Server\OpenClaw;

/**
 * Typed reads of the loosely typed `$params` array WHMCS hands to every module function.
 *
 * WHMCS passes strings for most fields, booleans for some and may leave any of them out; reading
 * through here keeps one definition of "empty" and never lets a non-scalar reach string code.
 */
final class Params
{
    /** @param array<mixed> $params */
    public static function string(array $params, string $key): string
    {
        $value = $params[$key] ?? '';
        if (is_string($value)) {
            return trim($value);
        }
        if (is_int($value) || is_float($value)) {
            return (string) $value;
        }
        return '';
    }

    /**
     * A positive integer id (service, client), or null when absent or malformed.
     *
     * @param array<mixed> $params
     */
    public static function positiveInt(array $params, string $key): ?int
    {
        $value = $params[$key] ?? null;
        if (is_int($value)) {
            return $value > 0 ? $value : null;
        }
        if (is_string($value) && preg_match('/^[1-9][0-9]{0,17}$/', trim($value)) === 1) {
            return (int) trim($value);
        }
        return null;
    }

    /**
     * WHMCS "yesno" settings arrive as 'on'; configurable yes/no options as '1'; both mean yes.
     */
    public static function isYes(mixed $value): bool
    {
        if (is_bool($value)) {
            return $value;
        }
        if (is_int($value)) {
            return $value > 0;
        }
        if (!is_string($value)) {
            return false;
        }
        return in_array(strtolower(trim($value)), ['on', '1', 'yes', 'true'], true);
    }

    /**
     * A value from a named array inside `$params` (configoptions, customfields), matched without
     * regard to case or surrounding spaces because admins type these names by hand.
     *
     * @param array<mixed> $params
     */
    public static function named(array $params, string $group, string $name): ?string
    {
        $values = $params[$group] ?? null;
        if (!is_array($values)) {
            return null;
        }
        $wanted = strtolower(trim($name));
        foreach ($values as $key => $value) {
            if (is_string($key) && strtolower(trim($key)) === $wanted && (is_scalar($value))) {
                return trim((string) $value);
            }
        }
        return null;
    }
}
