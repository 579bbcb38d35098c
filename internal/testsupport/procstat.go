package testsupport

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// userHZ is the unit of the CPU times in /proc/<pid>/stat. Linux fixes it
// at 100 for user space on every architecture it runs on.
const userHZ = 100

// ProcStat is what /proc says about one process at one moment.
type ProcStat struct {
	// CPU is the user and system time the process has used so far, in
	// steps of 10 ms.
	CPU time.Duration
	// ChildrenCPU is the CPU time of its children that have ended and
	// been waited for.
	ChildrenCPU time.Duration
	// PeakRSS is the largest resident set the process has had (VmHWM), in
	// bytes.
	PeakRSS int64
}

// ReadProcStat reads a live process's CPU time and peak resident memory.
func ReadProcStat(pid int) (ProcStat, error) {
	var s ProcStat
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return s, err
	}
	// The command name, in parentheses, may hold spaces: the fields after
	// its closing parenthesis start with field 3 (state).
	end := bytes.LastIndexByte(b, ')')
	if end < 0 {
		return s, fmt.Errorf("unexpected /proc/%d/stat: %q", pid, b)
	}
	f := strings.Fields(string(b[end+1:]))
	if len(f) < 15 {
		return s, fmt.Errorf("unexpected /proc/%d/stat: %q", pid, b)
	}
	var ticks [4]int64 // utime, stime, cutime, cstime: fields 14 to 17
	for i := range ticks {
		n, err := strconv.ParseInt(f[11+i], 10, 64)
		if err != nil {
			return s, fmt.Errorf("unexpected /proc/%d/stat: %q", pid, b)
		}
		ticks[i] = n
	}
	s.CPU = time.Duration(ticks[0]+ticks[1]) * time.Second / userHZ
	s.ChildrenCPU = time.Duration(ticks[2]+ticks[3]) * time.Second / userHZ
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return s, err
	}
	for _, line := range bytes.Split(status, []byte("\n")) {
		if rest, ok := bytes.CutPrefix(line, []byte("VmHWM:")); ok {
			if f := bytes.Fields(rest); len(f) > 0 {
				kb, _ := strconv.ParseInt(string(f[0]), 10, 64)
				s.PeakRSS = kb << 10
			}
		}
	}
	return s, nil
}

// ChildPIDs lists the live child processes of a process.
func ChildPIDs(pid int) ([]int, error) {
	tasks, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	if err != nil {
		return nil, err
	}
	var pids []int
	for _, t := range tasks {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%s/children", pid, t.Name()))
		if err != nil {
			continue // the thread ended
		}
		for _, f := range strings.Fields(string(b)) {
			if p, err := strconv.Atoi(f); err == nil {
				pids = append(pids, p)
			}
		}
	}
	return pids, nil
}

// TreeCPU is the CPU time used so far by a process and all its
// descendants, those still running and those that ended and were waited
// for. The difference of two readings is what the tree used in between,
// even when processes came and went (a PostgreSQL server's backends).
func TreeCPU(pid int) (time.Duration, error) {
	s, err := ReadProcStat(pid)
	if err != nil {
		return 0, err
	}
	total := s.CPU + s.ChildrenCPU
	children, err := ChildPIDs(pid)
	if err != nil {
		return 0, err
	}
	for _, c := range children {
		if t, err := TreeCPU(c); err == nil {
			total += t // a child that just ended is in ChildrenCPU soon
		}
	}
	return total, nil
}

// CurrentRSS reads a live process's resident memory now (VmRSS), in
// bytes.
func CurrentRSS(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, line := range bytes.Split(b, []byte("\n")) {
		if rest, ok := bytes.CutPrefix(line, []byte("VmRSS:")); ok {
			if f := bytes.Fields(rest); len(f) > 0 {
				kb, err := strconv.ParseInt(string(f[0]), 10, 64)
				return kb << 10, err
			}
		}
	}
	return 0, fmt.Errorf("/proc/%d/status has no VmRSS", pid)
}
