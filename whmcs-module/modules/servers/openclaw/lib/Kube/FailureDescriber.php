<?php

declare(strict_types=1);

namespace WHMCS\Module\Server\OpenClaw\Kube;

/**
 * Turns transport failures and Kubernetes `Status` answers into sentences a WHMCS admin can act on.
 *
 * Pure: no I/O, so every branch is covered by table-driven tests. The apiserver's own message is
 * kept (it names users, verbs and fields precisely) and a hint says which WHMCS setting to change.
 */
final class FailureDescriber
{
    private const MAX_DETAIL = 400;
    private const RBAC_HINT = 'Bind the Role from whmcs-module/rbac/whmcs-role.yaml to the WHMCS ServiceAccount '
        . 'in the namespace set in the server Username field.';
    private const TLS_HINT = 'Put the cluster CA certificate (PEM) into the server Access Hash field, or leave it '
        . 'empty only if the API server certificate is signed by a public CA.';

    public static function transport(TransportFailure $failure, string $apiUrl): string
    {
        $detail = self::clip($failure->getMessage());
        $where = 'the Kubernetes API at ' . $apiUrl;
        return match ($failure->curlErrno) {
            6 => 'Cannot resolve the host name of ' . $where . ' (' . $detail . '). Check the server Hostname.',
            5 => 'Cannot resolve the proxy configured for PHP while connecting to ' . $where . ' (' . $detail . ').',
            7 => 'Cannot connect to ' . $where . ' (' . $detail . '). Check the server Hostname and Port, and '
                . 'that a firewall lets WHMCS reach the API server.',
            28 => 'Timed out talking to ' . $where . ' (' . $detail . '). The API server or the network is '
                . 'slow or dropping packets.',
            35, 51, 53, 54, 58, 59, 60, 64, 66, 77, 80, 82, 83, 90, 91 => 'TLS verification of ' . $where
                . ' failed (' . $detail . '). ' . self::TLS_HINT,
            1 => 'Refused to contact ' . $where . ': only https:// is allowed (' . $detail . ').',
            52, 55, 56 => 'The connection to ' . $where . ' broke off (' . $detail . '). Retry; if it persists, '
                . 'check for a proxy or load balancer in between.',
            default => 'Could not talk to ' . $where . ' (curl error ' . $failure->curlErrno . ': ' . $detail . ').',
        };
    }

    public static function response(HttpResponse $response, Subject $subject): ApiError
    {
        $status = $response->json();
        $isStatus = is_array($status) && ($status['kind'] ?? null) === 'Status';
        $reason = $isStatus && is_string($status['reason'] ?? null) ? $status['reason'] : '';
        $apiMessage = $isStatus && is_string($status['message'] ?? null) ? self::clip($status['message']) : '';
        $details = $isStatus && is_array($status['details'] ?? null) ? $status['details'] : [];
        $code = $response->status;
        $objectMissing = false;

        if ($code >= 300 && $code < 400) {
            $message = 'The API server answered with a redirect' . ($response->location !== '' ? ' to '
                . self::clip($response->location) : '') . '; redirects are not followed. Set the server Hostname '
                . 'to the API server URL itself.';
        } elseif (!$isStatus && $code !== 404) {
            $message = 'Unexpected answer from the Kubernetes API (HTTP ' . $code . ')' . self::bodyHint($response)
                . '. Check that the server Hostname points at the Kubernetes API server, not a web page or proxy.';
        } elseif ($code === 401) {
            $message = 'The Kubernetes API rejected the token (401 Unauthorized): it is wrong, expired or revoked. '
                . 'Put a valid ServiceAccount token into the server Password field, e.g. from '
                . '`kubectl create token whmcs-openclaw -n ' . $subject->namespace . ' --duration=8760h`.';
        } elseif ($code === 403) {
            $message = 'Forbidden: ' . ($apiMessage !== '' ? $apiMessage : 'the token may not access '
                . $subject->describe()) . '. ' . self::RBAC_HINT;
        } elseif ($code === 404) {
            [$message, $objectMissing] = self::notFound($details, $subject);
        } elseif ($code === 409) {
            $message = 'Conflict on ' . $subject->describe() . ': ' . ($apiMessage ?: 'the object changed meanwhile')
                . '. Retry the action.';
        } elseif ($code === 422) {
            $message = 'The Kubernetes API rejected ' . $subject->describe() . ' as invalid: '
                . self::invalidFields($details, $apiMessage);
        } elseif ($code === 500 && str_starts_with($apiMessage, 'failed to create typed patch object')) {
            // Server-side apply answers a value of the wrong type (text where the CRD has a number) with
            // a 500, not a 422; it is no outage, and the message names the field.
            $field = strpos($apiMessage, '): ');
            $message = 'The Kubernetes API rejected ' . $subject->describe() . ' as invalid: '
                . ($field === false ? $apiMessage : substr($apiMessage, $field + 3)) . '.';
        } elseif ($code === 429 || $code >= 500) {
            $message = 'The Kubernetes API is unavailable or overloaded (HTTP ' . $code . ($reason !== '' ? ' '
                . $reason : '') . '): ' . ($apiMessage ?: 'no details') . '. Retry later.';
        } else {
            $message = 'The Kubernetes API refused the request on ' . $subject->describe() . ' (HTTP ' . $code
                . ($reason !== '' ? ' ' . $reason : '') . '): ' . ($apiMessage ?: 'no details') . '.';
        }
        return new ApiError($message, $code, $reason, $objectMissing);
    }

    /**
     * A 404 names the object when the object is missing; when the whole API (the CRD) is missing the
     * apiserver answers for the path without details, and a missing namespace names "namespaces".
     *
     * @param array<mixed> $details
     * @return array{0: string, 1: bool}
     */
    private static function notFound(array $details, Subject $subject): array
    {
        $kind = is_string($details['kind'] ?? null) ? $details['kind'] : '';
        $name = is_string($details['name'] ?? null) ? $details['name'] : '';
        if ($kind === 'namespaces') {
            return ['The namespace "' . self::clip($name) . '" does not exist. Create it, or correct the server '
                . 'Username field.', false];
        }
        if ($name !== '') {
            return [$subject->describe() . ' does not exist.', true];
        }
        return ['The ' . $subject->kind . ' API (' . $subject->apiVersion . ') is not installed on this cluster: '
            . 'install the OpenClaw operator (its Helm chart or crds/openclawinstances.yaml) first.', false];
    }

    /** @param array<mixed> $details */
    private static function invalidFields(array $details, string $apiMessage): string
    {
        $causes = is_array($details['causes'] ?? null) ? $details['causes'] : [];
        $parts = [];
        foreach (array_slice($causes, 0, 5) as $cause) {
            if (!is_array($cause)) {
                continue;
            }
            $field = is_string($cause['field'] ?? null) ? $cause['field'] : '';
            $text = is_string($cause['message'] ?? null) ? self::clip($cause['message']) : '';
            $parts[] = ($field !== '' ? 'field ' . $field . ': ' : '') . $text;
        }
        if ($parts === []) {
            return ($apiMessage ?: 'no details') . '.';
        }
        return implode('; ', $parts) . (count($causes) > 5 ? '; and ' . (count($causes) - 5) . ' more' : '') . '.';
    }

    private static function bodyHint(HttpResponse $response): string
    {
        $text = trim(preg_replace('/\s+/', ' ', strip_tags($response->body)) ?? '');
        return $text === '' ? '' : ': "' . self::clip($text, 120) . '"';
    }

    /** Long values (a hostile hostname echoed back, an HTML page) must not flood the WHMCS UI or log. */
    public static function clip(string $text, int $max = self::MAX_DETAIL): string
    {
        // Byte-based on purpose: the module needs no mbstring. Invalid UTF-8 is masked, a cut
        // multi-byte character at the end is dropped.
        if (preg_match('//u', $text) !== 1) {
            $text = preg_replace('/[\x80-\xff]/', '?', $text) ?? '';
        }
        if (strlen($text) <= $max) {
            return $text;
        }
        $cut = substr($text, 0, $max - 3);
        while ($cut !== '' && preg_match('//u', $cut) !== 1) {
            $cut = substr($cut, 0, -1);
        }
        return $cut . '...';
    }
}
