<?php
// The example's app: a small order report. It exercises what a PHP app
// needs from the interpreter: reading a file next to the script, JSON in and
// out, string and array functions, and plain arithmetic in a loop.
declare(strict_types=1);

$orders = json_decode(file_get_contents(__DIR__ . '/data/orders.json'), true, 512, JSON_THROW_ON_ERROR);
printf("%d orders read from data/orders.json\n", count($orders));

// Totals per customer and per SKU, with array functions.
$byCustomer = [];
$bySku = [];
foreach ($orders as $order) {
    $name = ucwords($order['customer']);
    $total = array_sum(array_map(fn(array $item): float => $item['qty'] * $item['price'], $order['items']));
    $byCustomer[$name] = ($byCustomer[$name] ?? 0) + $total;
    foreach ($order['items'] as $item) {
        $bySku[$item['sku']] = ($bySku[$item['sku']] ?? 0) + $item['qty'];
    }
}
arsort($byCustomer);
ksort($bySku);
foreach ($byCustomer as $name => $total) {
    echo str_pad($name, 16, '.'), str_pad(number_format($total, 2), 10, ' ', STR_PAD_LEFT), "\n";
}
echo "units per SKU: ", implode(', ', array_map(fn($sku, $qty) => "$sku=$qty", array_keys($bySku), $bySku)), "\n";
echo "best customer: ", array_key_first($byCustomer), "; initials: ",
    implode(' ', array_map(fn($n) => implode('', array_map(fn($w) => $w[0], explode(' ', $n))), array_keys($byCustomer))), "\n";

// Strings.
$sentence = 'WebAssembly modules in OCI images';
echo strtoupper($sentence), ' | ', strrev('olleh'), ' | ', str_word_count($sentence), ' words | ',
    preg_replace('/(\w+) (\w+)/', '$2 $1', 'world hello'), ' | ', mb_strtoupper('héllo wörld'), "\n";

// A loop with arithmetic: primes below 10000 by trial division, and a
// checksum kept below 2^31 (integers are 32-bit in wasm32 PHP).
$primes = [];
for ($n = 2; count($primes) < 1229; $n++) {
    $isPrime = true;
    for ($d = 2; $d * $d <= $n; $d++) {
        if ($n % $d === 0) { $isPrime = false; break; }
    }
    if ($isPrime) { $primes[] = $n; }
}
$checksum = 0;
foreach ($primes as $i => $p) { $checksum = ($checksum * 31 + $p * ($i + 1)) % 1000003; }
printf("%d primes, the largest %d, checksum %d\n", count($primes), end($primes), $checksum);

// JSON out, and back in.
$summary = ['orders' => count($orders), 'revenue' => round(array_sum($byCustomer), 2), 'top_sku' => array_search(max($bySku), $bySku), 'customers' => array_keys($byCustomer)];
$json = json_encode($summary, JSON_UNESCAPED_SLASHES);
echo $json, "\n";
echo json_decode($json)->top_sku === $summary['top_sku'] ? "round trip ok\n" : "round trip FAILED\n";
