<?php

declare(strict_types=1);

namespace WHMCS\Module\Server\OpenClaw\Kube;

/** What a request was about, so an error can say "OpenClawInstance whmcs-7 in namespace shop". */
final class Subject
{
    public function __construct(
        public readonly string $kind,
        public readonly string $name,
        public readonly string $namespace,
        public readonly string $apiVersion,
    ) {
    }

    public function describe(): string
    {
        $what = $this->name === '' ? $this->kind . ' resources' : $this->kind . ' "' . $this->name . '"';
        return $what . ' in namespace "' . $this->namespace . '"';
    }
}
