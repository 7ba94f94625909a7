package instrument

// denseMax bounds the ids kept in the slice; larger ids go to the map.
const denseMax = 1 << 16

// Table maps instrument ids to *T, creating entries on first use. The zero
// value is an empty table. It is not safe for concurrent use: one goroutine
// owns the state it indexes.
type Table[T any] struct {
	dense  []*T
	sparse map[uint32]*T
	all    []*T
}

// Get returns the entry of id, creating it (zero T, then init if not nil)
// on first use. The lookup of a dense id is one bounds check and a load.
func (t *Table[T]) Get(id uint32, init func(*T)) *T {
	if id < denseMax {
		if int(id) < len(t.dense) && t.dense[id] != nil {
			return t.dense[id]
		}
	} else if e := t.sparse[id]; e != nil {
		return e
	}
	e := new(T)
	if init != nil {
		init(e)
	}
	if id < denseMax {
		if int(id) >= len(t.dense) {
			t.dense = append(t.dense, make([]*T, int(id)+1-len(t.dense))...)
		}
		t.dense[id] = e
	} else {
		if t.sparse == nil {
			t.sparse = make(map[uint32]*T)
		}
		t.sparse[id] = e
	}
	t.all = append(t.all, e)
	return e
}

// Lookup returns the entry of id, or nil if there is none.
func (t *Table[T]) Lookup(id uint32) *T {
	if id < denseMax {
		if int(id) < len(t.dense) {
			return t.dense[id]
		}
		return nil
	}
	return t.sparse[id]
}

// All returns every entry in order of first appearance. The slice is the
// table's own: do not modify it.
func (t *Table[T]) All() []*T { return t.all }

// Len returns the number of entries.
func (t *Table[T]) Len() int { return len(t.all) }
