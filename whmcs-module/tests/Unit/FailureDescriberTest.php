<?php

declare(strict_types=1);

namespace WHMCS\Module\Server\OpenClaw\Tests\Unit;

use PHPUnit\Framework\Attributes\DataProvider;
use PHPUnit\Framework\TestCase;
use WHMCS\Module\Server\OpenClaw\Kube\FailureDescriber;
use WHMCS\Module\Server\OpenClaw\Kube\HttpResponse;
use WHMCS\Module\Server\OpenClaw\Kube\Subject;
use WHMCS\Module\Server\OpenClaw\Kube\TransportFailure;
use WHMCS\Module\Server\OpenClaw\Tests\Support\FakeTransport;

/** Every kind of failure becomes a sentence that says what is wrong and which setting to look at. */
final class FailureDescriberTest extends TestCase
{
    private const URL = 'https://k8s.example.com:6443';

    /** @return array<string, array{0: int, 1: string, 2: list<string>}> */
    public static function transportFailures(): array
    {
        return [
            'unresolvable' => [6, 'Could not resolve host: k8s.example.com', ['Cannot resolve', 'server Hostname']],
            'refused' => [7, 'Failed to connect to 127.0.0.1 port 1', ['Cannot connect', self::URL, 'Port']],
            'timeout' => [28, 'Connection timed out after 5001 milliseconds', ['Timed out']],
            'unknown CA' => [
                60,
                'SSL certificate problem: self-signed certificate',
                ['TLS verification', 'Access Hash'],
            ],
            'bad CA blob' => [77, 'error setting certificate file', ['TLS verification', 'CA certificate (PEM)']],
            'handshake' => [35, 'OpenSSL SSL_connect: SSL_ERROR_SYSCALL', ['TLS verification']],
            'host name mismatch' => [51, 'no alternative certificate subject name matches', ['TLS verification']],
            'dropped' => [56, 'Connection reset by peer', ['broke off']],
            'other' => [3, 'URL using bad/illegal format', ['curl error 3']],
        ];
    }

    /**
     * @dataProvider transportFailures
     * @param list<string> $expected
     */
    #[DataProvider('transportFailures')]
    public function testTransportFailures(int $errno, string $curlMessage, array $expected): void
    {
        $message = FailureDescriber::transport(new TransportFailure($errno, $curlMessage), self::URL);
        foreach ($expected as $part) {
            self::assertStringContainsString($part, $message);
        }
        self::assertStringContainsString($curlMessage, $message, 'curl\'s own words are kept');
    }

    /** @return array<string, array{0: HttpResponse, 1: list<string>, 2: bool}> */
    public static function responses(): array
    {
        $forbidden = 'openclawinstances.clawhost.dev "whmcs-42" is forbidden: User "system:serviceaccount:shop:whmcs" '
            . 'cannot patch resource "openclawinstances" in API group "clawhost.dev" in the namespace "shop"';
        return [
            '401' => [
                FakeTransport::status(401, 'Unauthorized', 'Unauthorized'),
                ['rejected the token', 'Password field', 'kubectl create token'],
                false,
            ],
            '403' => [
                FakeTransport::status(403, 'Forbidden', $forbidden),
                ['Forbidden: ' . $forbidden, 'whmcs-role.yaml'],
                false,
            ],
            '404 object' => [
                FakeTransport::status(
                    404,
                    'NotFound',
                    'openclawinstances.clawhost.dev "whmcs-42" not found',
                    ['name' => 'whmcs-42', 'group' => 'clawhost.dev', 'kind' => 'openclawinstances'],
                ),
                ['OpenClawInstance "whmcs-42" in namespace "shop" does not exist'],
                true,
            ],
            '404 API missing' => [
                FakeTransport::status(404, 'NotFound', 'the server could not find the requested resource'),
                ['API (clawhost.dev/v1alpha1) is not installed', 'install the OpenClaw operator'],
                false,
            ],
            '404 API missing, plain text' => [
                new HttpResponse(404, '404 page not found', 'text/plain'),
                ['is not installed'],
                false,
            ],
            '404 namespace' => [
                FakeTransport::status(
                    404,
                    'NotFound',
                    'namespaces "shop" not found',
                    ['name' => 'shop', 'kind' => 'namespaces'],
                ),
                ['namespace "shop" does not exist', 'Username'],
                false,
            ],
            '409' => [
                FakeTransport::status(409, 'Conflict', 'the object has been modified'),
                ['Conflict on', 'the object has been modified', 'Retry'],
                false,
            ],
            '422 names fields' => [
                FakeTransport::status(422, 'Invalid', 'OpenClawInstance "whmcs-42" is invalid: ...', ['causes' => [
                    [
                        'reason' => 'FieldValueInvalid',
                        'message' => 'Invalid value: "Bad_Host": spec.hostname in body should match \'^...\'',
                        'field' => 'spec.hostname',
                    ],
                    [
                        'reason' => 'FieldValueNotSupported',
                        'message' => 'Unsupported value: "mars"',
                        'field' => 'spec.location',
                    ],
                ]]),
                [
                    'rejected OpenClawInstance "whmcs-42"',
                    'field spec.hostname: Invalid value: "Bad_Host"',
                    'field spec.location: Unsupported value',
                ],
                false,
            ],
            '422 without causes' => [
                FakeTransport::status(422, 'Invalid', 'something is invalid'),
                ['as invalid: something is invalid'],
                false,
            ],
            '500' => [
                FakeTransport::status(500, 'InternalError', 'etcdserver: request timed out'),
                ['unavailable or overloaded', 'etcdserver', 'Retry later'],
                false,
            ],
            '500 from apply: a value of the wrong type names its field' => [
                FakeTransport::status(500, 'InternalError', 'failed to create typed patch object (shop/whmcs-42; '
                    . 'clawhost.dev/v1alpha1, Kind=OpenClawInstance): .spec.backup.retain: expected numeric (int or '
                    . 'float), got string'),
                ['rejected OpenClawInstance "whmcs-42" in namespace "shop" as invalid: .spec.backup.retain: expected '
                    . 'numeric (int or float), got string.'],
                false,
            ],
            '429' => [FakeTransport::status(429, 'TooManyRequests', 'too many requests'), ['Retry later'], false],
            'HTML from a proxy' => [
                new HttpResponse(502, '<html><body><h1>Bad Gateway</h1></body></html>', 'text/html'),
                ['Unexpected answer', 'HTTP 502', 'Bad Gateway', 'not a web page'],
                false,
            ],
            'redirect' => [
                new HttpResponse(302, '', 'text/html', 'https://login.example.com/'),
                ['redirect to https://login.example.com/', 'not followed'],
                false,
            ],
            '400' => [
                FakeTransport::status(400, 'BadRequest', 'the body could not be decoded'),
                ['HTTP 400 BadRequest', 'could not be decoded'],
                false,
            ],
        ];
    }

    /**
     * @dataProvider responses
     * @param list<string> $expected
     */
    #[DataProvider('responses')]
    public function testResponses(HttpResponse $response, array $expected, bool $objectMissing): void
    {
        $error = FailureDescriber::response(
            $response,
            new Subject('OpenClawInstance', 'whmcs-42', 'shop', 'clawhost.dev/v1alpha1'),
        );
        foreach ($expected as $part) {
            self::assertStringContainsString($part, $error->getMessage());
        }
        self::assertSame($objectMissing, $error->objectMissing);
        self::assertSame($response->status, $error->httpStatus);
    }

    public function testHugeEchoedValuesAreClipped(): void
    {
        $huge = str_repeat('a', 100000);
        $response = FakeTransport::status(422, 'Invalid', 'invalid', ['causes' => [
            ['field' => 'spec.hostname', 'message' => 'Invalid value: "' . $huge . '"'],
        ]]);
        $message = FailureDescriber::response(
            $response,
            new Subject('OpenClawInstance', 'x', 'ns', 'v1'),
        )->getMessage();
        self::assertLessThan(1000, strlen($message));
        self::assertStringContainsString('field spec.hostname', $message);
    }

    public function testClipKeepsValidUtf8(): void
    {
        $clipped = FailureDescriber::clip(str_repeat('é', 300), 101);
        self::assertSame(1, preg_match('//u', $clipped));
        self::assertLessThanOrEqual(101, strlen($clipped));
        self::assertSame(1, preg_match('//u', FailureDescriber::clip("bad \xff\xfe bytes")));
    }
}
