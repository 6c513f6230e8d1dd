<?php
// The site's code: where its services are, the three counters, and the page.

declare(strict_types=1);

/** A setting from the environment (compose.yaml's environment:), or its default. */
function setting(string $name, string $default = ''): string
{
    $value = getenv($name);
    return $value === false || $value === '' ? $default : $value;
}

/** The database password, read from the file DB_PASSWORD_FILE names (a Compose secret). */
function database_password(): string
{
    $file = setting('DB_PASSWORD_FILE', '/run/secrets/db_password');
    $password = @file_get_contents($file);
    if ($password === false) {
        throw new RuntimeException("cannot read the database password from $file");
    }
    return rtrim($password, "\r\n");
}

function database(): PDO
{
    $dsn = sprintf('mysql:host=%s;dbname=%s;charset=utf8mb4', setting('DB_HOST', 'db'), setting('DB_NAME', 'site'));
    return new PDO($dsn, setting('DB_USER', 'site'), database_password(), [
        PDO::ATTR_ERRMODE => PDO::ERRMODE_EXCEPTION,
        PDO::ATTR_TIMEOUT => 5,
    ]);
}

/** Counts this visit in the database (the table is created on first use); returns the total. */
function count_visit(PDO $db): int
{
    $db->exec('CREATE TABLE IF NOT EXISTS visits (id TINYINT PRIMARY KEY, count BIGINT NOT NULL)');
    $db->exec('INSERT INTO visits (id, count) VALUES (1, 1) ON DUPLICATE KEY UPDATE count = count + 1');
    return (int) $db->query('SELECT count FROM visits WHERE id = 1')->fetchColumn();
}

/** Increments a counter in Redis; returns its new value. */
function redis_hits(): int
{
    $redis = new Redis();
    $redis->connect(setting('REDIS_HOST', 'redis'), 6379, 2.0);
    return (int) $redis->incr('site:hits');
}

/** Increments a counter in Memcached (created at 0 when missing); returns its new value. */
function memcached_hits(): int
{
    $memcached = new Memcached();
    $memcached->addServer(setting('MEMCACHED_HOST', 'memcached'), 11211);
    $memcached->add('site:hits', 0);
    $hits = $memcached->increment('site:hits');
    if ($hits === false) {
        throw new RuntimeException('memcached: ' . $memcached->getResultMessage());
    }
    return (int) $hits;
}

function escape(string $text): string
{
    return htmlspecialchars($text, ENT_QUOTES | ENT_HTML5, 'UTF-8');
}

/**
 * The page: the title and one line per counter, each value in an element
 * with a data-counter attribute so a script (or a test) can read it.
 *
 * @param array<string, int> $counters name => value, in display order
 */
function render_page(string $title, array $counters): string
{
    $rows = '';
    foreach ($counters as $name => $value) {
        $rows .= sprintf("    <dt>%s</dt><dd data-counter=\"%s\">%d</dd>\n", escape($name), escape($name), $value);
    }
    return "<!doctype html>\n<html lang=\"en\">\n<head><meta charset=\"utf-8\"><title>" . escape($title) . "</title></head>\n"
        . "<body>\n  <h1>" . escape($title) . "</h1>\n  <dl>\n" . $rows . "  </dl>\n"
        . '  <p>Served by ' . escape(gethostname() ?: 'php') . ' with PHP ' . PHP_VERSION . "</p>\n</body>\n</html>\n";
}
