using System;
using System.Collections;
using System.Collections.Generic;
using System.Linq;

namespace S3Mount.Engine.Model;

/// <summary>An immutable list with value equality, so records holding lists compare by content.</summary>
public sealed class ValueList<T> : IReadOnlyList<T>, IEquatable<ValueList<T>>
{
    private readonly T[] _items;

    public ValueList(IEnumerable<T>? items) => _items = items?.ToArray() ?? Array.Empty<T>();

    public static ValueList<T> Empty { get; } = new(null);

    public T this[int index] => _items[index];

    public int Count => _items.Length;

    public IEnumerator<T> GetEnumerator() => ((IEnumerable<T>)_items).GetEnumerator();

    IEnumerator IEnumerable.GetEnumerator() => _items.GetEnumerator();

    public bool Equals(ValueList<T>? other) => other is not null && _items.SequenceEqual(other._items);

    public override bool Equals(object? obj) => obj is ValueList<T> l && Equals(l);

    public override int GetHashCode()
    {
        var h = 17;
        foreach (var i in _items)
        {
            h = (h * 31) + (i is null ? 0 : EqualityComparer<T>.Default.GetHashCode(i));
        }

        return h;
    }

    public override string ToString() => "[" + string.Join(", ", _items) + "]";

    public static implicit operator ValueList<T>(T[] items) => new(items);
    public static implicit operator ValueList<T>(List<T> items) => new(items);
}
