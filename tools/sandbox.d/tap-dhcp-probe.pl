#!/usr/bin/perl
# tap-dhcp-probe.pl [TAP] — attach to the sandbox's TAP device the way the user-space stack does
# (open /dev/net/tun, TUNSETIFF, no root needed when the device is ours), send one DHCPDISCOVER with
# Rapid Commit, and print the server's answer as key=value lines; then give the lease back with a
# DHCPRELEASE so the test leaves nothing behind. Core Perl only. Exit 0 on an ACK/OFFER, 1 if not.
#
# Run inside the router namespace: tools/sandbox exec perl tools/sandbox.d/tap-dhcp-probe.pl tap0
use strict;
use warnings;

my $tap = shift // $ENV{USTACK_TAP} // 'tap0';
use constant { TUNSETIFF => 0x400454ca, IFF_TAP => 0x0002, IFF_NO_PI => 0x1000 };

open(my $fh, '+<:raw', '/dev/net/tun') or die "open /dev/net/tun: $!\n";
my $ifr = pack('Z16 s x22', $tap, IFF_TAP | IFF_NO_PI);
ioctl($fh, TUNSETIFF, $ifr) or die "TUNSETIFF $tap: $! (does $tap exist here, and is it yours?)\n";
print "attached=$tap\n";

my @mac = (0x02, map { int(rand(256)) } 1 .. 5);     # locally administered
my $mac = pack('C6', @mac);
my $xid = int(rand(0xffffffff));

sub csum {
    my $sum = 0;
    $sum += $_ for unpack('n*', $_[0] . (length($_[0]) % 2 ? "\0" : ''));
    $sum = ($sum & 0xffff) + ($sum >> 16) while $sum >> 16;
    return ~$sum & 0xffff;
}

# Ethernet + IPv4 + UDP(68 -> 67, checksum 0 = none) around a BOOTP message.
sub frame {
    my ($dst_mac, $src_ip, $dst_ip, $bootp) = @_;
    my $udp = pack('n n n n', 68, 67, 8 + length $bootp, 0) . $bootp;
    my $ip = pack('C C n n n C C n a4 a4', 0x45, 0, 20 + length $udp, 0, 0, 64, 17, 0, $src_ip, $dst_ip);
    substr($ip, 10, 2) = pack('n', csum($ip));
    return $dst_mac . $mac . pack('n', 0x0800) . $ip . $udp;
}

sub bootp {
    my ($ciaddr, $flags, $options) = @_;
    return pack('C C C C N n n a4 a4 a4 a4 a16 x64 x128 N', 1, 1, 6, 0, $xid, 0, $flags,
                $ciaddr, "\0" x 4, "\0" x 4, "\0" x 4, $mac, 0x63825363) . $options . "\xff";
}

my $discover = bootp("\0" x 4, 0x8000,                   # broadcast flag: we have no address yet
    pack('C C C', 53, 1, 1)                              # DHCPDISCOVER
  . pack('C C', 80, 0)                                   # Rapid Commit
  . pack('C C C*', 55, 5, 1, 3, 6, 51, 54));             # ask for mask, router, dns, lease, server
my $bcast = "\xff" x 6;

my %types = (2 => 'OFFER', 5 => 'ACK', 6 => 'NAK');
my ($reply, $server_mac);
ATTEMPT: for my $attempt (1 .. 3) {
    syswrite($fh, frame($bcast, "\0" x 4, "\xff" x 4, $discover)) or die "write $tap: $!\n";
    print "sent=DHCPDISCOVER xid=", sprintf('0x%08x', $xid), " attempt=$attempt\n";
    my $deadline = time + 2;
    while (time <= $deadline) {
        my $rin = '';
        vec($rin, fileno($fh), 1) = 1;
        next unless select(my $rout = $rin, undef, undef, 0.5);
        sysread($fh, my $buf, 65536) or next;
        next if length($buf) < 14 + 20 + 8 + 240;
        my $type = unpack('n', substr($buf, 12, 2));
        next unless $type == 0x0800;
        my $ihl = (unpack('C', substr($buf, 14, 1)) & 0x0f) * 4;
        next unless unpack('C', substr($buf, 14 + 9, 1)) == 17;
        my ($sport, $dport) = unpack('n n', substr($buf, 14 + $ihl, 4));
        next unless $sport == 67 && $dport == 68;
        my $b = substr($buf, 14 + $ihl + 8);
        my ($op, $rxid) = unpack('C x3 N', $b);
        next unless $op == 2 && $rxid == $xid;
        $reply = $b;
        $server_mac = substr($buf, 6, 6);
        last ATTEMPT;
    }
}
die "no DHCP answer on $tap after 3 attempts\n" unless $reply;

my $yiaddr = substr($reply, 16, 4);
my %opt;
my $p = 240;
while ($p < length $reply) {
    my $code = unpack('C', substr($reply, $p, 1));
    last if $code == 255;
    if ($code == 0) { $p++; next }
    my $len = unpack('C', substr($reply, $p + 1, 1));
    $opt{$code} = substr($reply, $p + 2, $len);
    $p += 2 + $len;
}
my $ip = sub { join('.', unpack('C4', $_[0])) };
my $msgtype = defined $opt{53} ? unpack('C', $opt{53}) : 0;
print "type=", $types{$msgtype} // "unknown($msgtype)", "\n";
print "yiaddr=", $ip->($yiaddr), "\n";
print "server_mac=", join(':', map { sprintf '%02x', $_ } unpack('C6', $server_mac)), "\n";
print "netmask=", $ip->($opt{1}), "\n" if $opt{1};
print "router=", $ip->($opt{3}), "\n" if $opt{3};
print "dns=", join(',', map { $ip->(substr($opt{6}, $_ * 4, 4)) } 0 .. length($opt{6}) / 4 - 1), "\n" if $opt{6};
print "lease=", unpack('N', $opt{51}), "\n" if $opt{51};
print "server=", $ip->($opt{54}), "\n" if $opt{54};
print "rapid_commit=", exists $opt{80} ? 'yes' : 'no', "\n";

# Give the lease back (only an ACK made one): unicast from the leased address to the server.
if ($msgtype == 5 && $opt{54}) {
    my $release = bootp($yiaddr, 0, pack('C C C', 53, 1, 7) . pack('C C a4', 54, 4, $opt{54}));
    syswrite($fh, frame($server_mac, $yiaddr, $opt{54}, $release)) or die "write $tap: $!\n";
    print "sent=DHCPRELEASE\n";
}
exit($msgtype == 5 || $msgtype == 2 ? 0 : 1);
