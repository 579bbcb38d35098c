package sample

import (
	"fmt"
	"testing"
)

func TestScratch(t *testing.T) {
	snap, err := NewSnapshot(Config{}, "acme", nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, tb := range snap.Tables() {
		fmt.Println("==", tb.Name)
		for i := int64(0); i < 4; i++ {
			row, err := snap.Row(tb.Name, i)
			if err != nil {
				t.Fatal(err)
			}
			for k, v := range row {
				fmt.Printf("  %s=%v\n", tb.Columns[k].Name, v)
			}
			fmt.Println()
		}
	}
}
