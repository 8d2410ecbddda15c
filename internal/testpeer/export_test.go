package testpeer

import (
	"strconv"

	"github.com/pion/rtp"
)

var strconvItoa = strconv.Itoa

type rtpPacket = rtp.Packet

func itoa(n int) string { return strconvItoa(n) }
