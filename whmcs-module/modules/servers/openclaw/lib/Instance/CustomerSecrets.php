<?php

declare(strict_types=1);

namespace WHMCS\Module\Server\OpenClaw\Instance;

use WHMCS\Module\Server\OpenClaw\ModuleError;
use WHMCS\Module\Server\OpenClaw\Params;

/**
 * The customer's own credentials for their gateway: a model provider's API key and channel tokens,
 * entered at order (product custom fields) or later in the client area.
 *
 * Each becomes a create-only Secret the instance refers to from `spec.env` (name = the environment
 * variable OpenClaw reads); the value itself is never put in the spec, shown back or logged. The
 * variable names are the ones OpenClaw's own documentation uses.
 */
final class CustomerSecrets
{
    /** Product custom field or configurable option with the provider (the keys below, or "key|Label"). */
    public const PROVIDER_FIELD = 'Model Provider';
    /** Product custom field with that provider's API key (type password). */
    public const API_KEY_FIELD = 'Model API Key';

    /** Model provider => the environment variable OpenClaw reads its API key from. */
    public const PROVIDERS = [
        'anthropic' => 'ANTHROPIC_API_KEY',
        'openai' => 'OPENAI_API_KEY',
        'openrouter' => 'OPENROUTER_API_KEY',
        'google' => 'GEMINI_API_KEY',
        'mistral' => 'MISTRAL_API_KEY',
        'xai' => 'XAI_API_KEY',
        'groq' => 'GROQ_API_KEY',
        'deepseek' => 'DEEPSEEK_API_KEY',
    ];

    /** Product custom field => environment variable, for channel tokens. */
    public const CHANNEL_FIELDS = [
        'Telegram Bot Token' => 'TELEGRAM_BOT_TOKEN',
        'Discord Bot Token' => 'DISCORD_BOT_TOKEN',
    ];

    /** Key inside each Secret. */
    public const SECRET_KEY = 'value';

    private const MIN_LENGTH = 8;
    private const MAX_LENGTH = 4096;

    /** @param list<array{env: string, field: string, value: string}> $entries */
    private function __construct(public readonly array $entries)
    {
    }

    /**
     * From the product's custom fields at order (or as an admin re-entered them). Empty fields mean
     * "keep what the instance has": the module clears them once the Secret exists.
     *
     * @param array<mixed> $params
     */
    public static function fromCustomFields(array $params): self
    {
        $values = [];
        foreach ([self::PROVIDER_FIELD, self::API_KEY_FIELD, ...array_keys(self::CHANNEL_FIELDS)] as $field) {
            $values[$field] = Params::named($params, 'customfields', $field) ?? '';
        }
        // The provider may also be a configurable option (priced per provider); a custom field wins.
        if ($values[self::PROVIDER_FIELD] === '') {
            $values[self::PROVIDER_FIELD] = Params::named($params, 'configoptions', self::PROVIDER_FIELD) ?? '';
        }
        return self::fromValues($values);
    }

    /**
     * From field name => value (the client-area form posts the same names).
     *
     * @param array<string, string> $values
     */
    public static function fromValues(array $values): self
    {
        $entries = [];
        $key = trim($values[self::API_KEY_FIELD] ?? '');
        if ($key !== '') {
            $provider = strtolower(trim(explode('|', $values[self::PROVIDER_FIELD] ?? '', 2)[0]));
            $env = self::PROVIDERS[$provider] ?? null;
            if ($env === null) {
                throw new ModuleError('"' . self::PROVIDER_FIELD . '" must be one of ' . implode(', ', array_keys(
                    self::PROVIDERS,
                )) . ' when a "' . self::API_KEY_FIELD . '" is given.');
            }
            $entries[] = self::entry($env, self::API_KEY_FIELD, $key);
        }
        foreach (self::CHANNEL_FIELDS as $field => $env) {
            $value = trim($values[$field] ?? '');
            if ($value !== '') {
                $entries[] = self::entry($env, $field, $value);
            }
        }
        return new self($entries);
    }

    /** @return list<string> the values, for masking */
    public function values(): array
    {
        return array_column($this->entries, 'value');
    }

    /** @return list<string> the custom fields that held a secret (the provider name is not one) */
    public function fields(): array
    {
        return array_column($this->entries, 'field');
    }

    /** @return array{env: string, field: string, value: string} */
    private static function entry(string $env, string $field, string $value): array
    {
        $length = strlen($value);
        if ($length < self::MIN_LENGTH || $length > self::MAX_LENGTH || preg_match('/^[\x21-\x7e]+$/', $value) !== 1) {
            // Says what is wrong without repeating the value.
            throw new ModuleError('"' . $field . '" must be ' . self::MIN_LENGTH . ' to ' . self::MAX_LENGTH
                . ' printable characters without spaces.');
        }
        return ['env' => $env, 'field' => $field, 'value' => $value];
    }
}
