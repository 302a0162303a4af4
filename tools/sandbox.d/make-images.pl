#!/usr/bin/perl
# make-images.pl DIR — writes the demo site's pictures as small GIF files (core Perl only, so it
# runs wherever perl-base does). Each picture has a 4-colour palette (colour, white, a darker shade,
# black) and a pattern of diagonal stripes with a border, so every file differs in size and bytes.
#
# Encoding: "uncompressed" GIF. The LZW minimum code size is 2, so every code is 3 bits wide as
# long as the code table never grows past 7 entries; sending a Clear code before every two pixels
# guarantees that, and every GIF decoder reads the result.
use strict;
use warnings;

my $dir = shift or die "usage: $0 DIR\n";
mkdir $dir unless -d $dir;

my %images = (    # name => [width, height, r, g, b]
    banner => [240, 40, 0x33, 0x66, 0xcc], footer => [240, 8, 0x66, 0x66, 0x66],
    red    => [16, 16, 0xdd, 0x22, 0x22],  orange => [24, 24, 0xee, 0x88, 0x11],
    yellow => [32, 32, 0xee, 0xdd, 0x22],  green  => [40, 40, 0x22, 0xaa, 0x33],
    teal   => [48, 48, 0x11, 0x99, 0x99],  blue   => [56, 56, 0x22, 0x44, 0xdd],
    indigo => [64, 64, 0x44, 0x22, 0x99],  violet => [72, 72, 0x99, 0x33, 0xbb],
    grey   => [80, 80, 0x88, 0x88, 0x88],  black  => [96, 96, 0x20, 0x20, 0x20],
    photo  => [320, 240, 0x55, 0x88, 0xbb],
);

for my $name (sort keys %images) {
    my ($w, $h, $r, $g, $b) = @{ $images{$name} };
    my @palette = ([$r, $g, $b], [255, 255, 255], [int($r / 2), int($g / 2), int($b / 2)], [0, 0, 0]);

    # The picture: border in black, stripes alternating colour / darker shade, a white diagonal.
    my @pixels;
    for my $y (0 .. $h - 1) {
        for my $x (0 .. $w - 1) {
            my $p;
            if ($x == 0 || $y == 0 || $x == $w - 1 || $y == $h - 1) { $p = 3 }
            elsif ($x == $y)                                       { $p = 1 }
            else                                                   { $p = (int(($x + $y) / 4) % 2) ? 2 : 0 }
            push @pixels, $p;
        }
    }

    # LZW codes: Clear (4), two pixels, Clear, two pixels, ..., End (5). 3 bits each, LSB first.
    my @codes;
    for (my $i = 0; $i < @pixels; $i += 2) {
        push @codes, 4, $pixels[$i];
        push @codes, $pixels[$i + 1] if $i + 1 < @pixels;
    }
    push @codes, 5;
    my ($acc, $nbits, $bytes) = (0, 0, '');
    for my $c (@codes) {
        $acc |= $c << $nbits;
        $nbits += 3;
        while ($nbits >= 8) { $bytes .= chr($acc & 0xff); $acc >>= 8; $nbits -= 8 }
    }
    $bytes .= chr($acc & 0xff) if $nbits > 0;

    my $gif = 'GIF89a' . pack('v v C C C', $w, $h, 0x81, 0, 0);   # global colour table of 4
    $gif .= pack('C3', @$_) for @palette;
    $gif .= ',' . pack('v v v v C', 0, 0, $w, $h, 0);              # image descriptor
    $gif .= chr(2);                                                # LZW minimum code size
    for (my $o = 0; $o < length $bytes; $o += 255) {               # data sub-blocks
        my $chunk = substr($bytes, $o, 255);
        $gif .= chr(length $chunk) . $chunk;
    }
    $gif .= chr(0) . ';';                                          # block terminator, trailer

    open(my $fh, '>:raw', "$dir/$name.gif") or die "$dir/$name.gif: $!\n";
    print $fh $gif;
    close $fh or die "$dir/$name.gif: $!\n";
}
