namespace FinServerless.Datasets.Csv;

/// <summary>
/// A block of consecutive rows copied out of the reader, so that workers can validate and format them while
/// the reader moves on. Fields are stored contiguously; the batch is reused once processed.
/// </summary>
internal sealed class RowBatch
{
    private byte[] _data = new byte[1 << 20];
    private int _dataLength;
    private (int Start, int Length)[] _fields = new (int, int)[1 << 15];
    private int _fieldsUsed;
    private (int FirstField, int FieldCount, long Line, bool ValidUtf8)[] _rows;

    public RowBatch(int capacity)
    {
        _rows = new (int, int, long, bool)[capacity];
    }

    /// <summary>Curated rows a worker wrote for this batch.</summary>
    public Output.Utf8CsvWriter Curated { get; } = new(1 << 20);

    /// <summary>Rows a worker accepted.</summary>
    public long Accepted { get; set; }

    /// <summary>Rows a worker rejected, with their failures.</summary>
    public List<Ingest.RejectedRow> Rejected { get; } = [];

    /// <summary>Order of the batch in the file.</summary>
    public long Sequence { get; set; }

    /// <summary>Data row number (1-based, header excluded) of the batch's first row.</summary>
    public long FirstRowNumber { get; set; }

    public int Count { get; private set; }

    public bool IsFull => Count == _rows.Length;

    public void Reset(long sequence, long firstRowNumber)
    {
        Sequence = sequence;
        FirstRowNumber = firstRowNumber;
        Count = 0;
        _dataLength = 0;
        _fieldsUsed = 0;
        Accepted = 0;
        Rejected.Clear();
        Curated.Clear();
    }

    /// <summary>Copies the reader's current row into the batch.</summary>
    public void Add(CsvReader reader)
    {
        var first = _fieldsUsed;
        var count = reader.FieldCount;
        if (_fieldsUsed + count > _fields.Length)
        {
            Array.Resize(ref _fields, Math.Max(_fields.Length * 2, _fieldsUsed + count));
        }

        for (var i = 0; i < count; i++)
        {
            var field = reader[i];
            if (_dataLength + field.Length > _data.Length)
            {
                Array.Resize(ref _data, Math.Max(_data.Length * 2, _dataLength + field.Length));
            }

            field.CopyTo(_data.AsSpan(_dataLength));
            _fields[_fieldsUsed++] = (_dataLength, field.Length);
            _dataLength += field.Length;
        }

        _rows[Count++] = (first, count, reader.Line, reader.RowIsValidUtf8);
    }

    /// <summary>A view of row <paramref name="index"/> (the view is reused: one row at a time).</summary>
    public View Row(View view, int index)
    {
        var (first, count, line, valid) = _rows[index];
        view.Set(this, first, count, line, valid);
        return view;
    }

    /// <summary>A movable window on one row of a batch.</summary>
    public sealed class View : ICsvRow
    {
        private RowBatch _batch = null!;
        private int _first;

        public int FieldCount { get; private set; }

        public long Line { get; private set; }

        public bool RowIsValidUtf8 { get; private set; }

        public ReadOnlySpan<byte> this[int index]
        {
            get
            {
                var (start, length) = _batch._fields[_first + index];
                return _batch._data.AsSpan(start, length);
            }
        }

        internal void Set(RowBatch batch, int first, int count, long line, bool valid)
        {
            _batch = batch;
            _first = first;
            FieldCount = count;
            Line = line;
            RowIsValidUtf8 = valid;
        }
    }
}
