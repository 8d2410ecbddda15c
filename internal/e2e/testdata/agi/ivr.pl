#!/usr/bin/perl
# The IVR of the AGI peer tests, on Debian's Asterisk::AGI
# (libasterisk-agi-perl 1.08), unmodified library calls:
#   ivr.pl                 a local AGI script (stdin/stdout)
#   ivr.pl --listen PORT   a FastAGI server for one call: the PBX connects
#                          and the socket is dup'ed onto fd 0/1, as
#                          Asterisk::AGI hard-codes STDIN/STDOUT.
# agi_arg_1 is where to record, agi_arg_2 the file the transcript (every
# raw reply the library read, one per line) is written to.
use strict; use warnings;
use IO::Socket::INET;
use Asterisk::AGI;

my $sighup = 0;

sub run_ivr {
    my ($local) = @_;
    # A local script gets SIGHUP when the channel hangs up (here: after
    # its own HANGUP); it notes it instead of dying.
    $SIG{HUP} = sub { $sighup = 1; } if $local;
    my $AGI = Asterisk::AGI->new;
    my %env = $AGI->ReadParse();
    open(my $out, '>', $env{'arg_2'}) or die "transcript: $!";
    select((select($out), $| = 1)[0]);
    print $out "env request=$env{'request'} channel=$env{'channel'} enhanced=$env{'enhanced'} arg_1=$env{'arg_1'}\n";
    my $log = sub { print $out $AGI->_lastresponse(), "\n"; };
    $AGI->answer(); $log->();
    $AGI->stream_file('beep', '#'); $log->();
    my $digits = $AGI->get_data('beep', 5000, 3); $log->();
    print $out "digits=$digits\n";
    $AGI->say_number(42); $log->();
    $AGI->set_variable('IVRVAR', 'hello world'); $log->();
    my $v = $AGI->get_variable('IVRVAR'); $log->();
    print $out "IVRVAR=$v\n";
    $AGI->exec('Playback', 'beep'); $log->();
    $AGI->record_file($env{'arg_1'}, 'wav', '#', 1000); $log->();
    $AGI->database_put('ivr', 'perl', $digits); $log->();
    my $db = $AGI->database_get('ivr', 'perl'); $log->();
    print $out "db=$db\n";
    $AGI->hangup(); $log->();
    if ($local) {
        for (1 .. 50) { last if $sighup; select(undef, undef, undef, 0.1); }
        print $out "sighup=$sighup\n";
    }
    close $out;
}

if (($ARGV[0] // '') eq '--listen') {
    my $l = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => $ARGV[1],
                                  Listen => 5, ReuseAddr => 1) or die "listen: $!";
    print STDERR "ready\n";
    my $c = $l->accept or die "accept: $!";
    open(STDIN,  '<&', $c) or die "dup stdin: $!";
    open(STDOUT, '>&', $c) or die "dup stdout: $!";
    run_ivr(0);
    close STDOUT; close STDIN;
} else {
    run_ivr(1);
}
