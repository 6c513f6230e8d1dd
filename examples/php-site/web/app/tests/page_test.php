<?php
// The site's unit test, run by x-skiff.test in the web image before a
// release is published: `php tests/page_test.php` exits non-zero on failure.

declare(strict_types=1);

require __DIR__ . '/../src/site.php';

$failures = 0;

function check(string $what, bool $ok): void
{
    global $failures;
    echo ($ok ? 'ok   ' : 'FAIL ') . $what . "\n";
    if (!$ok) {
        $failures++;
    }
}

$page = render_page('Visits <&> counts', ['mariadb' => 7, 'redis' => 3]);
check('the title is escaped', str_contains($page, '<title>Visits &lt;&amp;&gt; counts</title>'));
check('each counter has its element', str_contains($page, '<dd data-counter="mariadb">7</dd>'));
check('counters keep their order', strpos($page, 'mariadb') < strpos($page, 'redis'));

putenv('SITE_TEST_EMPTY=');
check('an empty setting takes its default', setting('SITE_TEST_EMPTY', 'fallback') === 'fallback');

$file = tempnam(sys_get_temp_dir(), 'pw');
file_put_contents($file, "s3cret\n");
putenv("DB_PASSWORD_FILE=$file");
check('the password file loses its newline', database_password() === 's3cret');
unlink($file);

exit($failures === 0 ? 0 : 1);
