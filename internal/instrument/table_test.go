package instrument

import "testing"

type entry struct{ id, hits uint32 }

func TestTable(t *testing.T) {
	var tab Table[entry]
	ids := []uint32{3, 1, 70000, 3, 1 << 31, 0}
	for _, id := range ids {
		e := tab.Get(id, func(e *entry) { e.id = id })
		e.hits++
	}
	if tab.Len() != 5 {
		t.Fatalf("Len %d, want 5", tab.Len())
	}
	want := []uint32{3, 1, 70000, 1 << 31, 0}
	for i, e := range tab.All() {
		if e.id != want[i] {
			t.Fatalf("All()[%d].id = %d, want %d", i, e.id, want[i])
		}
	}
	if e := tab.Lookup(3); e == nil || e.hits != 2 {
		t.Fatalf("Lookup(3) = %+v", e)
	}
	if tab.Lookup(4) != nil || tab.Lookup(70001) != nil || tab.Lookup(1<<20) != nil {
		t.Fatal("Lookup of an absent id returned an entry")
	}
}

func BenchmarkTableGetDense(b *testing.B) {
	var tab Table[entry]
	for id := uint32(1); id <= 100; id++ {
		tab.Get(id, nil)
	}
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		tab.Get(uint32(i%100)+1, nil).hits++
	}
}
