<?php

declare(strict_types=1);

namespace WHMCS\Module\Server\OpenClaw\Instance;

/**
 * The token OpenClaw clients authenticate with. WHMCS keeps it as the service password (encrypted
 * by WHMCS, shown to the customer); Kubernetes gets it in a Secret the module can write but not read.
 */
final class GatewayToken
{
    public const SECRET_KEY = 'token';
    private const MIN_LENGTH = 32;
    private const MAX_LENGTH = 512;

    /** 256 random bits, base64url without padding (43 characters). */
    public static function generate(): string
    {
        return rtrim(strtr(base64_encode(random_bytes(32)), '+/', '-_'), '=');
    }

    /**
     * Whether a service password is strong enough to serve as the token. WHMCS's own generated
     * passwords are shorter, so a fresh service gets a generated token instead.
     */
    public static function isUsable(string $candidate): bool
    {
        $length = strlen($candidate);
        return $length >= self::MIN_LENGTH && $length <= self::MAX_LENGTH
            && preg_match('/^[\x21-\x7e]+$/', $candidate) === 1;
    }

    public static function requirement(): string
    {
        return 'The gateway token (the service password) must be ' . self::MIN_LENGTH . ' to ' . self::MAX_LENGTH
            . ' printable characters without spaces.';
    }
}
