<?php

/** The query builder half of the WHMCS\Database\Capsule stand-in (see Capsule.php). */

declare(strict_types=1);

namespace WHMCS\Database;

final class CapsuleQuery
{
    /** @param list<object> $rows */
    public function __construct(private array $rows)
    {
    }

    /**
     * Writes the columns into every selected row (rows are shared objects, so the table sees it).
     *
     * @param array<string, mixed> $values
     */
    public function update(array $values): int
    {
        foreach ($this->rows as $row) {
            foreach ($values as $column => $value) {
                $row->{$column} = $value;
            }
        }
        return count($this->rows);
    }

    public function where(string $column, mixed $value): self
    {
        return new self(array_values(array_filter(
            $this->rows,
            static fn (object $row): bool => $row->{$column} == $value,
        )));
    }

    /** @param list<mixed> $values */
    public function whereIn(string $column, array $values): self
    {
        return new self(array_values(array_filter(
            $this->rows,
            static fn (object $row): bool => in_array($row->{$column}, $values, false),
        )));
    }

    /**
     * @param list<string> $columns
     * @return list<object>
     */
    public function get(array $columns = ['*']): array
    {
        if ($columns === ['*']) {
            return $this->rows;
        }
        return array_map(
            static fn (object $row): object => (object) array_intersect_key((array) $row, array_flip($columns)),
            $this->rows,
        );
    }

    public function first(): ?object
    {
        return $this->rows[0] ?? null;
    }
}
