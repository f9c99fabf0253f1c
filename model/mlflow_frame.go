package model

import (
	"fmt"
)

// The pandas DataFrames MLflow builds from dataframe_split and
// dataframe_records values, and their cast to the signature's doubles.

// column is one column of a pandas-like frame.
type column struct {
	name  string
	pos   int  // the name is this position (pandas' default RangeIndex), not a string
	named bool // name is a string
	cells []any
	vals  []float64 // the column as float64, once cast (nil before)
	// object: the cells are lists (a multi-dimensional value per row);
	// pandas keeps such a column as dtype object.
	object bool
}

func (c *column) label() string {
	if c.named {
		return c.name
	}
	return fmt.Sprint(c.pos)
}

func (c *column) pyRepr() string {
	if c.named {
		return pyStrRepr(c.name)
	}
	return fmt.Sprint(c.pos)
}

// frame is the pandas DataFrame MLflow builds from a request.
type frame struct {
	cols  []*column
	n     int
	index []string // row labels ("index" of dataframe_split); nil: 0, 1, ...
}

func positional(n int) []*column {
	cols := make([]*column, n)
	for i := range cols {
		cols[i] = &column{pos: i}
	}
	return cols
}

// splitFrame builds the frame of a dataframe_split value, as
// pd.DataFrame(index=..., columns=..., data=...).
func splitFrame(v any, ord keyOrder) (*frame, error) {
	d, ok := v.(map[string]any)
	if !ok {
		what := "type " + pyType(v)
		if _, isList := v.([]any); isList {
			what = "list"
		}
		return nil, invalidInput("Dataframe split format must be a dictionary. Got %s.", what)
	}
	_, hasData := d["data"]
	extra := false
	for k := range d {
		if k != "columns" && k != "data" && k != "index" {
			extra = true
		}
	}
	if !hasData || extra {
		return nil, invalidInput("Dataframe split format must have 'data' field and optionally 'columns' and 'index' fields. Got %s.'",
			pySetOfKeys(d, ord))
	}
	notValid := func(msg string) error {
		return invalidInput("Provided dataframe_split field is not a valid dataframe representation in 'split' format. Error: '%s'", msg)
	}
	rows, ok := d["data"].([]any)
	if !ok {
		return nil, notValid("DataFrame constructor not properly called!")
	}
	var cols []*column
	if c, ok := d["columns"]; ok && c != nil {
		names, ok := c.([]any)
		if !ok {
			return nil, notValid("Index(...) must be called with a collection of some kind, " + pyValueRepr(c) + " was passed")
		}
		for i, n := range names {
			if s, ok := n.(string); ok {
				cols = append(cols, &column{name: s, named: true})
			} else {
				cols = append(cols, &column{name: pyValueRepr(n), pos: i})
			}
		}
	}
	f, err := rowsFrame(rows, cols, ord)
	if err != nil {
		return nil, notValid(err.Error())
	}
	if ix, ok := d["index"]; ok && ix != nil {
		labels, ok := ix.([]any)
		if !ok {
			return nil, notValid("Index(...) must be called with a collection of some kind, " + pyValueRepr(ix) + " was passed")
		}
		if len(labels) != f.n {
			return nil, notValid(fmt.Sprintf("Length of values (%d) does not match length of index (%d)", f.n, len(labels)))
		}
		f.index = make([]string, len(labels))
		for i, l := range labels {
			f.index[i] = pyStrOf(l)
		}
	}
	return f, nil
}

// rowsFrame builds a frame from a list of rows (lists, padded to the widest)
// or of scalars (one column). cols names the columns, or nil for positions.
func rowsFrame(rows []any, cols []*column, ord keyOrder) (*frame, error) {
	// pandas looks at the first row: a list makes rows of values, anything
	// else one column holding every row as it is.
	listRows := false
	if len(rows) > 0 {
		_, listRows = rows[0].([]any)
	}
	width := 1
	lists := make([][]any, len(rows))
	if listRows {
		width = 0
		for i, r := range rows {
			switch x := r.(type) {
			case []any:
				lists[i] = x
			case map[string]any: // iterated as its keys
				for _, k := range ord.keys(x) {
					lists[i] = append(lists[i], k)
				}
			case string: // iterated as its characters
				for _, c := range x {
					lists[i] = append(lists[i], string(c))
				}
			default:
				return nil, fmt.Errorf("object of type '%s' has no len()", pyTypeName(r))
			}
			width = max(width, len(lists[i]))
		}
	} else {
		for i, r := range rows {
			lists[i] = []any{r}
		}
	}
	if cols == nil {
		cols = positional(width)
	} else if len(rows) > 0 && width != len(cols) {
		if !listRows {
			return nil, fmt.Errorf("Shape of passed values is (%d, 1), indices imply (%d, %d)", len(rows), len(rows), len(cols))
		}
		return nil, fmt.Errorf("%d columns passed, passed data had %d columns", len(cols), width)
	}
	for _, c := range cols {
		c.cells = make([]any, len(rows))
	}
	for i, l := range lists {
		for j := range cols {
			if j < len(l) {
				cols[j].cells[i] = l[j]
			} // shorter rows are padded with None, as pandas does
		}
	}
	return &frame{cols: cols, n: len(rows)}, nil
}

// recordsFrame builds the frame of a dataframe_records value, as pd.DataFrame(data=...).
func recordsFrame(v any, ord keyOrder) (*frame, error) {
	rows, ok := v.([]any)
	if !ok {
		what := "type " + pyType(v)
		if _, isMap := v.(map[string]any); isMap {
			what = "dictionary"
		}
		return nil, invalidInput("Dataframe records format must be a list of records. Got %s.", what)
	}
	f, err := dictRowsFrame(rows, ord)
	if err != nil {
		return nil, invalidInput("Provided dataframe_records field is not a valid dataframe representation in 'records' format. Error: '%s'", err.Error())
	}
	return f, nil
}

// dictRowsFrame builds a frame from rows that are all objects (columns in
// order of first appearance, missing cells None), or else as rowsFrame does.
func dictRowsFrame(rows []any, ord keyOrder) (*frame, error) {
	if len(rows) == 0 {
		return rowsFrame(rows, nil, ord)
	}
	if _, ok := rows[0].(map[string]any); !ok {
		return rowsFrame(rows, nil, ord)
	}
	for _, r := range rows {
		if _, ok := r.(map[string]any); !ok {
			return nil, fmt.Errorf("'%s' object has no attribute 'keys'", pyTypeName(r))
		}
	}
	var cols []*column
	index := map[string]*column{}
	for i, r := range rows {
		for _, k := range ord.keys(r.(map[string]any)) {
			c := index[k]
			if c == nil {
				c = &column{name: k, named: true, cells: make([]any, len(rows))}
				index[k] = c
				cols = append(cols, c)
			}
			c.cells[i] = r.(map[string]any)[k]
		}
	}
	return &frame{cols: cols, n: len(rows)}, nil
}

// castFrame converts the columns the signature names to double, as MLflow's
// cast_df_types_according_to_schema does with pandas' astype(float64).
func castFrame(m *Model, f *frame) error {
	for _, c := range f.cols {
		if !c.named || !m.hasFeature(c.name) {
			continue
		}
		vals := make([]float64, len(c.cells))
		for i, cell := range c.cells {
			v, perr := toFloat(cell)
			if perr != nil {
				return invalidInput("Data is not compatible with model signature. Failed to convert column %s to type 'float64'. Error: '%s'",
					c.name, pyExcRepr(perr.class, perr.msg))
			}
			vals[i] = v
		}
		c.vals = vals
	}
	return nil
}

func (m *Model) hasFeature(name string) bool {
	for _, f := range m.Features {
		if f == name {
			return true
		}
	}
	return false
}
