#!/usr/bin/perl
# A local AGI script on Debian's Asterisk::AGI (libasterisk-agi-perl): it
# answers and marks the channel, so the cluster test can tell from the CDR
# that AGI ran on a node whose central server was down.
use strict; use warnings;
use Asterisk::AGI;
my $AGI = Asterisk::AGI->new;
my %env = $AGI->ReadParse();
$AGI->answer();
$AGI->set_variable('AGIMARK', $env{'channel'} =~ m{^PJSIP/1001-} ? 'ran' : 'wrong-channel');
exit 0;
