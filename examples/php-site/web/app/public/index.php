<?php
// The home page: counts the visit in MariaDB, Redis and Memcached, each
// reached by its service name, and shows the three counts.

declare(strict_types=1);

require __DIR__ . '/../src/site.php';

try {
    $counters = [
        'mariadb' => count_visit(database()),
        'redis' => redis_hits(),
        'memcached' => memcached_hits(),
    ];
} catch (Throwable $error) {
    http_response_code(503);
    header('Content-Type: text/plain; charset=utf-8');
    error_log('index.php: ' . $error->getMessage());
    echo "The site cannot reach one of its services: {$error->getMessage()}\n";
    exit;
}

header('Content-Type: text/html; charset=utf-8');
header('Cache-Control: no-store');
echo render_page('Visits to a PHP site', $counters);
