<?php

declare(strict_types=1);

namespace WHMCS\Module\Server\OpenClaw\Kube;

use WHMCS\Module\Server\OpenClaw\ModuleError;
use WHMCS\Module\Server\OpenClaw\Params;

/**
 * Where and as whom the module talks to Kubernetes, read from a WHMCS server record.
 *
 * Mapping (documented in README.md): Hostname = API server URL, Password = ServiceAccount token,
 * Username = namespace, Access Hash = cluster CA certificate (PEM, optional). The namespace sits on
 * the server record rather than the product because the token is bound to exactly one namespace.
 */
final class ClusterSettings
{
    public const DEFAULT_PORT = 6443;
    private const MAX_TOKEN_LENGTH = 16384;
    private const PEM_CERTIFICATE = '-----BEGIN CERTIFICATE-----';

    private function __construct(
        public readonly string $apiUrl,
        public readonly string $token,
        public readonly ?string $caPem,
        public readonly string $namespace,
    ) {
    }

    /** @param array<mixed> $params */
    public static function fromParams(array $params): self
    {
        return new self(
            self::apiUrl(
                Params::string($params, 'serverhostname') ?: Params::string($params, 'serverip'),
                Params::string($params, 'serverport'),
            ),
            self::token(Params::string($params, 'serverpassword')),
            self::caPem(Params::string($params, 'serveraccesshash')),
            self::namespace(Params::string($params, 'serverusername')),
        );
    }

    private static function apiUrl(string $hostname, string $port): string
    {
        if ($hostname === '') {
            throw new ModuleError(
                'No Kubernetes API server is configured: set the server Hostname to the API server URL, '
                . 'for example https://k8s.example.com:6443.'
            );
        }
        if (strlen($hostname) > 2048 || preg_match('/[\s\x00-\x1f\x7f]/', $hostname) === 1) {
            throw new ModuleError('The server Hostname is not a valid URL: it contains spaces or control characters.');
        }
        if (!str_contains($hostname, '://')) {
            // A bare host name: WHMCS's Port field (or the apiserver's usual 6443) completes it.
            $hostname = 'https://' . $hostname . ':' . ($port !== '' ? $port : (string) self::DEFAULT_PORT);
        }
        $parts = parse_url($hostname);
        if ($parts === false || !isset($parts['scheme'], $parts['host'])) {
            throw new ModuleError('The server Hostname "' . self::shorten($hostname) . '" is not a valid URL.');
        }
        if (strtolower($parts['scheme']) !== 'https') {
            throw new ModuleError(
                'The Kubernetes API must be reached over HTTPS: the server Hostname starts with "'
                . self::shorten($parts['scheme']) . '://".'
            );
        }
        if (isset($parts['user']) || isset($parts['pass']) || isset($parts['query']) || isset($parts['fragment'])) {
            throw new ModuleError(
                'The server Hostname must be a plain URL (https://host:port, optionally with a path), '
                . 'without credentials, query or fragment; put the token in the Password field.'
            );
        }
        $url = 'https://' . strtolower($parts['host']);
        if (isset($parts['port'])) {
            if ($parts['port'] < 1 || $parts['port'] > 65535) {
                throw new ModuleError('The server port must be between 1 and 65535.');
            }
            $url .= ':' . $parts['port'];
        }
        // A path prefix is kept: proxies such as Rancher serve clusters under /k8s/clusters/<id>.
        return $url . rtrim($parts['path'] ?? '', '/');
    }

    private static function token(string $token): string
    {
        if ($token === '') {
            throw new ModuleError(
                'No ServiceAccount token is configured: put the token of the WHMCS ServiceAccount in the '
                . 'server Password field (see README: "Server setup").'
            );
        }
        // A newline or space would let the value escape the Authorization header.
        if (strlen($token) > self::MAX_TOKEN_LENGTH || preg_match('/^[\x21-\x7e]+$/', $token) !== 1) {
            throw new ModuleError(
                'The server Password field must hold a Kubernetes bearer token: one line of printable '
                . 'characters without spaces.'
            );
        }
        return $token;
    }

    private static function caPem(string $accessHash): ?string
    {
        if ($accessHash === '') {
            return null;
        }
        $pem = str_replace("\r\n", "\n", html_entity_decode($accessHash, ENT_QUOTES | ENT_HTML5, 'UTF-8'));
        if (!str_contains($pem, self::PEM_CERTIFICATE)) {
            throw new ModuleError(
                'The server Access Hash must be empty or hold the cluster CA certificate in PEM form '
                . '(starting with ' . self::PEM_CERTIFICATE . ').'
            );
        }
        return trim($pem) . "\n";
    }

    private static function namespace(string $namespace): string
    {
        if ($namespace === '') {
            throw new ModuleError(
                'No namespace is configured: put the Kubernetes namespace the instances live in into the '
                . 'server Username field.'
            );
        }
        // Validated here because it becomes part of every request path.
        if (strlen($namespace) > 63 || preg_match('/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/', $namespace) !== 1) {
            throw new ModuleError(
                'The server Username "' . self::shorten($namespace) . '" is not a valid Kubernetes namespace '
                . 'name (lower-case letters, digits and "-", at most 63 characters).'
            );
        }
        return $namespace;
    }

    private static function shorten(string $value): string
    {
        $clean = preg_replace('/[^\x20-\x7e]/', '?', $value) ?? '';
        return strlen($clean) > 80 ? substr($clean, 0, 77) . '...' : $clean;
    }
}
