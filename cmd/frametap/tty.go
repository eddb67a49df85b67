package main

import (
	"errors"
	"os"
)

// errNoTerminal is why the dashboard cannot open: tcell draws on the
// controlling terminal, and there is none under nohup, systemd or CI.
var errNoTerminal = errors.New("the dashboard needs a terminal and there is none here (nohup, a service, CI): use --headless to print events as lines")

// needTerminal checks, before anything starts listening, that the dashboard
// will have a terminal to draw on.
func needTerminal() error {
	tty, err := os.OpenFile("/dev/tty", os.O_RDWR, 0)
	if err != nil {
		return errNoTerminal
	}
	tty.Close()
	return nil
}
