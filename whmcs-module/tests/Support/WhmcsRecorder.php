<?php

declare(strict_types=1);

namespace WHMCS\Module\Server\OpenClaw\Tests\Support;

/**
 * What the module handed to WHMCS during a test: module log entries, localAPI calls, hooks, activity
 * log lines. The global stubs in bootstrap.php write here; tests read and reset it.
 */
final class WhmcsRecorder
{
    /** @var list<array{module: mixed, action: mixed, request: mixed, response: mixed, processed: mixed, replace: mixed}> */
    public static array $moduleLog = [];
    /** @var list<array{command: string, arguments: array<mixed>}> */
    public static array $localApiCalls = [];
    /** @var array<string, array<mixed>> canned localAPI answers by command */
    public static array $localApiAnswers = [];
    /** @var list<array{hook: string, priority: int, callback: mixed}> */
    public static array $hooks = [];
    /** @var list<string> */
    public static array $activity = [];

    public static function reset(): void
    {
        self::$moduleLog = [];
        self::$localApiCalls = [];
        self::$localApiAnswers = [];
        self::$activity = [];
    }

    /** Everything passed to logModuleCall so far, flattened to one string for "contains" assertions. */
    public static function moduleLogText(): string
    {
        return var_export(self::$moduleLog, true);
    }

    /** @return list<array<mixed>> localAPI arguments of one command */
    public static function localApi(string $command): array
    {
        $calls = array_filter(self::$localApiCalls, static fn (array $call): bool => $call['command'] === $command);
        return array_values(array_map(static fn (array $call): array => $call['arguments'], $calls));
    }
}
