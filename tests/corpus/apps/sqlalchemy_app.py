"""SQLAlchemy 2 ORM over sqlite3 (compiled extensions, greenlet for the asyncio bridge)."""
from sqlalchemy import ForeignKey, create_engine, func, select
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, relationship


class Base(DeclarativeBase):
    pass


class Author(Base):
    __tablename__ = "author"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str]
    books: Mapped[list["Book"]] = relationship(back_populates="author")


class Book(Base):
    __tablename__ = "book"
    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str]
    author_id: Mapped[int] = mapped_column(ForeignKey("author.id"))
    author: Mapped[Author] = relationship(back_populates="books")


engine = create_engine("sqlite://")
Base.metadata.create_all(engine)
with Session(engine) as s:
    for i in range(4):
        s.add(Author(name=f"a{i}", books=[Book(title=f"b{i}-{j}") for j in range(i + 1)]))
    s.commit()
    q = select(Author.name, func.count(Book.id)).join(Book).group_by(Author.name).order_by(Author.name)
    print(s.execute(q).all())
    print([b.title for b in s.scalars(select(Book).where(Book.title.like("b3%")).order_by(Book.id))])
import greenlet  # noqa: E402

print("greenlet switch", greenlet.greenlet(lambda x: x * 2).switch(21))
