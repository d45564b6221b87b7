<?php

declare(strict_types=1);

namespace WHMCS\Module\Server\OpenClaw\Tests\Support;

/** Strings that have broken input handling elsewhere: encodings, sizes, injections, edge values. */
final class HostileInput
{
    /** @return list<string> */
    public static function strings(): array
    {
        return [
            '', ' ', "\0", "a\r\nb", str_repeat('x', 1 << 20), "\xff\xfe\xfd", "\xc3", '😀🦀', "\u{202e}evil",
            'é.example.com', '../../etc/passwd', '<script>alert(1)</script>', "'; DROP TABLE tblhosting; --",
            '{{7*7}}', '${jndi:ldap://x}', '%00%0d%0a', '-1', '0', '9999999999999999999999', '1e309', 'NaN', 'true',
            '[]', '{}', 'a|b|c', '|', '.', '..',
            str_repeat('a.', 200) . 'com', 'UPPER.EXAMPLE.COM', "tab\there", "\u{FEFF}bom.example.com",
        ];
    }
}
