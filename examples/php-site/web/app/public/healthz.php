<?php
// Skiff's health check (x-skiff.health.path): Apache and PHP answer. It
// does not ask the database, so a database restart does not take the web
// replicas out of the edge.

declare(strict_types=1);

header('Content-Type: text/plain; charset=utf-8');
header('Cache-Control: no-store');
echo "ok\n";
