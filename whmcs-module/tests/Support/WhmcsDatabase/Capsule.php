<?php

/**
 * A stand-in for WHMCS's database facade (Illuminate's query builder behind WHMCS\Database\Capsule),
 * covering the calls the module makes: table()->where()->whereIn()->get()/first() over rows held in
 * memory. Only the module's one database adapter (CapsuleServerDirectory) uses it.
 */

declare(strict_types=1);

namespace WHMCS\Database;

final class Capsule
{
    /** @var array<string, list<object>> table name => rows */
    public static array $tables = [];

    public static function table(string $name): CapsuleQuery
    {
        return new CapsuleQuery(self::$tables[$name] ?? []);
    }
}
