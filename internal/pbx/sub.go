package pbx

// RunSubroutine runs the dialplan from context,exten,priority as a Gosub
// called by an application rather than by the dialplan (AGI's GOSUB,
// app_stack.c handle_gosub): it runs steps until the routine's Return
// pops its frame, the dialplan ends or the channel hangs up, then puts the
// channel back where it was. It reports whether the routine returned; on
// an abnormal exit the routine's frames are dropped and GOSUB_RETVAL is
// emptied, as balance_stack does.
func (e *Exec) RunSubroutine(context, exten string, priority int, args []string) bool {
	c, x, p := e.Ch.Location()
	depth := len(e.gosub)
	jumped := e.jumped
	e.PushGosub(args)
	e.Ch.SetLocation(context, exten, priority)
	returned := false
	for steps := 0; steps < maxSteps; steps++ {
		if e.Ch.IsHungUp() || !e.PBX.step(e, false) {
			break
		}
		if len(e.gosub) <= depth {
			returned = true
			break
		}
	}
	if !returned {
		if len(e.gosub) > depth {
			e.gosub = e.gosub[:depth]
		}
		e.Ch.SetVar("GOSUB_RETVAL", "")
	}
	e.Ch.SetLocation(c, x, p)
	e.jumped = jumped
	return returned
}
