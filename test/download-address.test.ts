/** The address policy, the X-Robots-Tag reading and Retry-After: the small rules the download stage's safety rests on. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { badCidr, compileAllow, parseIp, refusal } from '../src/download/address.js';
import { disallowedBy, parseRetryAfter } from '../src/download/http.js';

const strict = { allowPrivate: false, allow: compileAllow([]) };
const open = { allowPrivate: true, allow: compileAllow([]) };

describe('download address policy', () => {
  it('parses IPv4, IPv6, mapped and zoned forms', () => {
    assert.deepEqual(parseIp('10.1.2.3'), [10, 1, 2, 3]);
    assert.deepEqual(parseIp('::1'), [...Array(15).fill(0), 1]);
    assert.deepEqual(parseIp('[::ffff:127.0.0.1]')!.slice(10), [0xff, 0xff, 127, 0, 0, 1]);
    assert.deepEqual(parseIp('::ffff:7f00:1')!.slice(10), [0xff, 0xff, 127, 0, 0, 1]);
    assert.deepEqual(parseIp('fe80::1%eth0')!.slice(0, 2), [0xfe, 0x80]);
    assert.equal(parseIp('example.com'), undefined);
  });

  it('refuses loopback, private, link-local, multicast, unspecified and reserved addresses, in every form', () => {
    for (const a of ['127.0.0.1', '127.8.9.10', '10.0.0.1', '172.16.5.4', '172.31.255.255', '192.168.1.1', '169.254.1.1', '100.64.0.1', '0.0.0.0', '224.0.0.251', '255.255.255.255', '::1', '::', 'fd00::1', 'fc00::1', 'fe80::1', 'ff02::1', '::ffff:127.0.0.1', '::ffff:7f00:1', '::ffff:10.0.0.1', '64:ff9b::a00:1', '2002:a00:1::', '::127.0.0.1']) {
      assert.ok(refusal(a, strict), `${a} should be refused`);
      assert.match(refusal(a, strict)!, /--allow-private-addresses/);
    }
    for (const a of ['8.8.8.8', '1.1.1.1', '172.32.0.1', '100.128.0.1', '2606:4700::1111', '::ffff:8.8.8.8', '64:ff9b::808:808']) assert.equal(refusal(a, strict), undefined, a);
  });

  it('refuses cloud metadata addresses even with --allow-private-addresses', () => {
    for (const a of ['169.254.169.254', '::ffff:169.254.169.254', '::ffff:a9fe:a9fe', '64:ff9b::a9fe:a9fe', 'fd00:ec2::254', '100.100.100.200']) {
      assert.match(refusal(a, open) ?? '', /metadata/, a);
    }
    assert.equal(refusal('127.0.0.1', open), undefined);
    assert.equal(refusal('10.0.0.1', open), undefined);
  });

  it('lets --allow-address ranges through, and only them', () => {
    const p = { allowPrivate: false, allow: compileAllow(['10.1.2.0/24', '::1']) };
    assert.equal(refusal('10.1.2.77', p), undefined);
    assert.equal(refusal('::ffff:10.1.2.77', p), undefined);
    assert.ok(refusal('10.1.3.1', p));
    assert.equal(refusal('::1', p), undefined);
    assert.ok(refusal('169.254.169.254', { allowPrivate: false, allow: compileAllow(['169.254.0.0/16']) }));
    assert.equal(badCidr('10.0.0.0/8'), undefined);
    assert.match(badCidr('10.0.0.0/33')!, /prefix length/);
    assert.match(badCidr('example.com')!, /not an IP address/);
  });
});

describe('download politeness', () => {
  const tokens = ['mmcurate', 'img2dataset'];
  const dis = ['noai', 'noimageai', 'noindex', 'noimageindex'];
  it('reads X-Robots-Tag as img2dataset does: no token or one of ours, any disallowed directive', () => {
    assert.equal(disallowedBy(['noai'], tokens, dis), 'noai');
    assert.equal(disallowedBy(['nofollow, NoImageIndex'], tokens, dis), 'nofollow, NoImageIndex');
    assert.equal(disallowedBy(['img2dataset: noai'], tokens, dis), 'img2dataset: noai');
    assert.equal(disallowedBy(['otherbot: noai'], tokens, dis), undefined);
    assert.equal(disallowedBy(['nofollow', 'unavailable_after: 25 Jun 2010 15:00:00 PST'], tokens, dis), undefined);
    assert.equal(disallowedBy(['otherbot: noai', 'mmcurate: noindex'], tokens, dis), 'mmcurate: noindex');
    assert.equal(disallowedBy(['noai'], tokens, []), undefined);
  });

  it('reads Retry-After in seconds or as a date', () => {
    assert.equal(parseRetryAfter('3'), 3000);
    assert.equal(parseRetryAfter(undefined), undefined);
    assert.equal(parseRetryAfter('soon'), undefined);
    const ms = parseRetryAfter(new Date(Date.now() + 60_000).toUTCString())!;
    assert.ok(ms > 55_000 && ms <= 60_000, String(ms));
  });
});
