<?php

declare(strict_types=1);

namespace WHMCS\Module\Server\OpenClaw\Kube;

/**
 * The Kubernetes API over ext-curl: bearer token, verified TLS, bounded time, no redirects.
 */
final class CurlTransport implements Transport
{
    private const USER_AGENT = 'whmcs-openclaw/1.0';

    public function __construct(
        private readonly ClusterSettings $settings,
        private readonly int $connectTimeoutSeconds = 5,
        private readonly int $timeoutSeconds = 20,
    ) {
    }

    public function apiUrl(): string
    {
        return $this->settings->apiUrl;
    }

    public function send(HttpRequest $request): HttpResponse
    {
        $handle = curl_init($this->settings->apiUrl . $request->path);
        if ($handle === false) {
            throw new TransportFailure(0, 'curl could not be initialised');
        }
        $headers = [
            'Authorization: Bearer ' . $this->settings->token,
            'Accept: application/json',
        ];
        if ($request->body !== null) {
            $headers[] = 'Content-Type: ' . $request->contentType;
        }
        $responseHeaders = ['content-type' => '', 'location' => ''];
        $caFile = null;
        try {
            curl_setopt_array($handle, [
                CURLOPT_CUSTOMREQUEST => $request->method,
                CURLOPT_HTTPHEADER => $headers,
                CURLOPT_RETURNTRANSFER => true,
                CURLOPT_SSL_VERIFYPEER => true,
                CURLOPT_SSL_VERIFYHOST => 2,
                CURLOPT_CONNECTTIMEOUT => $this->connectTimeoutSeconds,
                CURLOPT_TIMEOUT => $this->timeoutSeconds,
                // The token must only ever go to the configured server over TLS.
                CURLOPT_PROTOCOLS => CURLPROTO_HTTPS,
                CURLOPT_FOLLOWLOCATION => false,
                // Over HTTP/2 the apiserver resets the stream when it refuses a request before reading
                // its body (401/403 on a PATCH), and curl then reports a partial transfer instead of the
                // answer. HTTP/1.1 always delivers the Status.
                CURLOPT_HTTP_VERSION => CURL_HTTP_VERSION_1_1,
                CURLOPT_USERAGENT => self::USER_AGENT,
                CURLOPT_HEADERFUNCTION => static function ($curl, string $line) use (&$responseHeaders): int {
                    $parts = explode(':', $line, 2);
                    $name = strtolower(trim($parts[0]));
                    if (count($parts) === 2 && array_key_exists($name, $responseHeaders)) {
                        $responseHeaders[$name] = trim($parts[1]);
                    }
                    return strlen($line);
                },
            ]);
            if ($request->body !== null) {
                curl_setopt($handle, CURLOPT_POSTFIELDS, $request->body);
            }
            if ($this->settings->caPem !== null) {
                $caFile = $this->trustOnly($handle, $this->settings->caPem);
            }
            $body = curl_exec($handle);
            if (!is_string($body)) {
                throw new TransportFailure(curl_errno($handle), curl_error($handle));
            }
            return new HttpResponse(
                (int) curl_getinfo($handle, CURLINFO_RESPONSE_CODE),
                $body,
                $responseHeaders['content-type'],
                $responseHeaders['location'],
            );
        } finally {
            curl_close($handle);
            if ($caFile !== null) {
                @unlink($caFile);
            }
        }
    }

    /**
     * Trusts exactly the cluster CA from the Access Hash instead of the system bundle.
     *
     * @return string|null a temporary CA file to remove afterwards (PHP < 8.2 has no CAINFO_BLOB)
     */
    private function trustOnly(\CurlHandle $handle, string $caPem): ?string
    {
        if (defined('CURLOPT_CAINFO_BLOB')) {
            curl_setopt($handle, constant('CURLOPT_CAINFO_BLOB'), $caPem);
            return null;
        }
        $file = tempnam(sys_get_temp_dir(), 'openclaw-ca-');
        if ($file === false || file_put_contents($file, $caPem) === false) {
            throw new TransportFailure(CURLE_SSL_CACERT_BADFILE, 'cannot write the CA certificate to a temporary file');
        }
        chmod($file, 0600);
        curl_setopt($handle, CURLOPT_CAINFO, $file);
        return $file;
    }
}
