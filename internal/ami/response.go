package ami

import "strconv"

// response starts "Response: X" with the ActionID echoed
// (astman_send_response_full).
func response(m *Message, resp string) *builder {
	w := &builder{b: make([]byte, 0, 128)}
	w.h("Response", resp)
	if id := m.Get("ActionID"); id != "" {
		w.h("ActionID", id)
	}
	return w
}

func errorResponse(m *Message, msg string) []byte {
	w := response(m, "Error")
	w.h("Message", msg)
	return w.end()
}

func ack(m *Message, msg string) []byte {
	w := response(m, "Success")
	w.h("Message", msg)
	return w.end()
}

// listAck starts an event list (astman_send_listack).
func listAck(m *Message, msg string) []byte {
	w := response(m, "Success")
	w.h("EventList", "start")
	w.h("Message", msg)
	return w.end()
}

// listComplete ends an event list (astman_send_list_complete_start); extra
// lines come before the blank line.
func listComplete(m *Message, event string, n int, extra ...string) []byte {
	w := &builder{}
	w.h("Event", event)
	if id := m.Get("ActionID"); id != "" {
		w.h("ActionID", id)
	}
	w.h("EventList", "Complete")
	w.h("ListItems", strconv.Itoa(n))
	for _, l := range extra {
		w.line(l)
	}
	return w.end()
}
