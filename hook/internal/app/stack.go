package app

// checksStack is a frame large enough that the stack grows to 16 KiB: the
// hook's run needs more than 8 KiB and less than 16 (debug.SetMaxStack
// says so, for the bench's variants and a refused container alike).
const checksStack = 12 << 10

// growStack grows the calling goroutine's stack to hold checksStack more,
// at once. A goroutine starts with 2 KiB and the runtime doubles the stack
// whenever a call needs more, copying it to a new one from another pool
// each time: 2, 4, 8 and 16 KiB, three copies in which every frame is
// looked up and adjusted, and a dozen page faults, on every container
// start. Asked for a frame this large while the stack is still shallow,
// the runtime grows it once, straight to 16 KiB.
//
//go:noinline
func growStack() {
	var frame [checksStack]byte
	touchFrame(frame[:])
}

// touchFrame keeps growStack's frame from being optimised away.
//
//go:noinline
func touchFrame(b []byte) { b[0] = 1 }
