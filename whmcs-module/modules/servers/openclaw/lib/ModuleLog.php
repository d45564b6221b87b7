<?php

declare(strict_types=1);

namespace WHMCS\Module\Server\OpenClaw;

/**
 * Writes every Kubernetes call to WHMCS's module log (Configuration > System Logs > Module Log) with
 * secrets already removed.
 *
 * WHMCS offers `$replaceVars` to scrub values, but that hands the secrets themselves to the logger; the
 * module masks them before the call instead, so nothing secret is ever passed to logModuleCall. Besides
 * the registered secrets (in the raw, base64, JSON and URL forms they travel in), the data of any Secret
 * object is blanked structurally, which also covers tokens the module did not register.
 */
final class ModuleLog
{
    public const MODULE = 'openclaw';
    private const MASK = '***';
    private const MIN_SECRET_LENGTH = 6;
    private const MAX_LOGGED_BYTES = 16384;

    /** @var list<string> */
    private array $secrets = [];

    public function __construct(private readonly string $action)
    {
    }

    public function addSecret(string $secret): void
    {
        if (strlen($secret) < self::MIN_SECRET_LENGTH) {
            return;
        }
        $encoded = json_encode($secret, JSON_UNESCAPED_SLASHES | JSON_INVALID_UTF8_SUBSTITUTE);
        $variants = [
            $secret,
            base64_encode($secret),
            rtrim(strtr(base64_encode($secret), '+/', '-_'), '='),
            rawurlencode($secret),
            urlencode($secret),
            is_string($encoded) ? substr($encoded, 1, -1) : $secret,
            addcslashes($secret, '/"\\'),
        ];
        foreach ($variants as $variant) {
            if (!in_array($variant, $this->secrets, true)) {
                $this->secrets[] = $variant;
            }
        }
        // Longest first, so a secret that contains another is masked whole.
        usort($this->secrets, static fn (string $a, string $b): int => strlen($b) <=> strlen($a));
    }

    /**
     * Logs one API exchange. `$request` and `$response` are the raw HTTP texts; `$outcome` says what
     * the module made of it (or the readable error).
     */
    public function record(string $request, string $response, string $outcome): void
    {
        if (!function_exists('logModuleCall')) {
            return;
        }
        logModuleCall(
            self::MODULE,
            $this->action,
            $this->mask(self::readable($request)),
            $this->mask(self::readable($response)),
            $this->mask($outcome),
            [],
        );
    }

    /** Removes every registered secret from a text (also used on messages returned to WHMCS). */
    public function mask(string $text): string
    {
        return $this->secrets === [] ? $text : str_replace($this->secrets, self::MASK, $text);
    }

    /**
     * Re-renders a JSON part of an HTTP text without Secret data and managedFields bookkeeping,
     * and caps its size: a module log line must stay readable.
     */
    private static function readable(string $http): string
    {
        $split = strpos($http, "\n");
        $head = $split === false ? $http : substr($http, 0, $split);
        $body = $split === false ? '' : substr($http, $split + 1);
        $decoded = json_decode($body, true, 128);
        if (is_array($decoded)) {
            $pretty = json_encode(
                self::withoutSecretData($decoded),
                JSON_PRETTY_PRINT | JSON_UNESCAPED_SLASHES | JSON_INVALID_UTF8_SUBSTITUTE,
            );
            $body = is_string($pretty) ? $pretty : $body;
        }
        $text = $body === '' ? $head : $head . "\n" . $body;
        if (strlen($text) > self::MAX_LOGGED_BYTES) {
            return substr($text, 0, self::MAX_LOGGED_BYTES) . "\n[truncated]";
        }
        return $text;
    }

    /**
     * @param array<mixed> $value
     * @return array<mixed>
     */
    private static function withoutSecretData(array $value): array
    {
        if (($value['kind'] ?? null) === 'Secret') {
            foreach (['data', 'stringData'] as $field) {
                if (is_array($value[$field] ?? null)) {
                    $value[$field] = array_map(static fn (): string => self::MASK, $value[$field]);
                }
            }
        }
        if (is_array($value['metadata'] ?? null)) {
            unset($value['metadata']['managedFields']);
        }
        foreach ($value as $key => $child) {
            if (is_array($child)) {
                $value[$key] = self::withoutSecretData($child);
            }
        }
        return $value;
    }
}
