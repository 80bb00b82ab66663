// Russian for ru* browsers, English for everyone else.

export type Locale = 'en' | 'ru';

export interface Strings {
  title: string;
  online: string;
  offline: string;
  andMore: (n: number) => string;
  placeholder: string;
  send: string;
  open: string;
  close: string;
  empty: string;
  sending: string;
  waiting: string;
  retrying: string;
  typing: string;
  typingNamed: (name: string) => string;
  emailLabel: string;
  emailPlaceholder: string;
  emailSave: string;
  emailSaved: string;
  emailChange: string;
  emailInvalid: string;
  connecting: string;
  noConnection: string;
  tooLong: string;
  tooMany: string;
  failed: string;
  viaEmail: string;
  operator: string;
  unread: (n: number) => string;
  attach: string;
  dropFiles: string;
  remove: (name: string) => string;
  retry: string;
  uploading: (name: string) => string;
  fileTooLarge: string;
  fileRejected: string;
  uploadFailed: string;
  tooManyFiles: (n: number) => string;
  filesFailed: string;
  waitingUploads: string;
  download: string;
  sizeUnits: readonly string[];
  hideGreeting: string;
}

const en: Strings = {
  title: 'Chat with us',
  online: 'Online — we reply in a few minutes',
  offline: 'Away now — leave a message, we will reply',
  andMore: (n) => `and ${n} more`,
  placeholder: 'Write a message…',
  send: 'Send',
  open: 'Open chat',
  close: 'Close chat',
  empty: 'Ask us anything — we will answer right here.',
  sending: 'Sending…',
  waiting: 'Waiting for connection…',
  retrying: 'Can’t send right now — retrying…',
  typing: 'Operator is typing…',
  typingNamed: (name) => `${name} is typing…`,
  emailLabel: 'Your email — we will answer there too',
  emailPlaceholder: 'you@example.com',
  emailSave: 'Save',
  emailSaved: 'we will answer there too',
  emailChange: 'Change',
  emailInvalid: 'Please check the email address.',
  connecting: 'Connecting…',
  noConnection: 'No connection. Your messages will be sent when it is back.',
  tooLong: 'The message is too long. Please shorten it.',
  tooMany: 'Too many messages at once. Please wait a moment.',
  failed: 'Could not send the message',
  viaEmail: 'by email',
  operator: 'Operator',
  unread: (n) => `${n} unread`,
  attach: 'Attach files',
  dropFiles: 'Drop files here to attach them',
  remove: (name) => `Remove ${name}`,
  retry: 'Retry',
  uploading: (name) => `Uploading ${name}`,
  fileTooLarge: 'The file is too large to send',
  fileRejected: 'This file cannot be sent',
  uploadFailed: 'Could not upload',
  tooManyFiles: (n) => `Up to ${n} files per message`,
  filesFailed: 'Some files were not uploaded: retry or remove them.',
  waitingUploads: 'Will be sent once the files are uploaded…',
  download: 'Download',
  sizeUnits: ['B', 'KB', 'MB', 'GB'],
  hideGreeting: 'Hide',
};

const ru: Strings = {
  title: 'Напишите нам',
  online: 'На связи — отвечаем за несколько минут',
  offline: 'Сейчас не на связи — оставьте сообщение',
  andMore: (n) => `и ещё ${n}`,
  placeholder: 'Напишите сообщение…',
  send: 'Отправить',
  open: 'Открыть чат',
  close: 'Закрыть чат',
  empty: 'Задайте вопрос — ответим прямо здесь.',
  sending: 'Отправляется…',
  waiting: 'Ждём соединения…',
  retrying: 'Не удаётся отправить — пробуем снова…',
  typing: 'Оператор печатает…',
  typingNamed: (name) => `${name} печатает…`,
  emailLabel: 'Ваш email — ответим и туда тоже',
  emailPlaceholder: 'you@example.com',
  emailSave: 'Сохранить',
  emailSaved: 'ответим и туда тоже',
  emailChange: 'Изменить',
  emailInvalid: 'Проверьте адрес почты.',
  connecting: 'Подключаемся…',
  noConnection: 'Нет соединения. Сообщения отправятся, когда оно появится.',
  tooLong: 'Сообщение слишком длинное. Сократите его, пожалуйста.',
  tooMany: 'Слишком много сообщений подряд. Подождите немного.',
  failed: 'Не удалось отправить сообщение',
  viaEmail: 'по почте',
  operator: 'Оператор',
  unread: (n) => `непрочитанных: ${n}`,
  attach: 'Прикрепить файлы',
  dropFiles: 'Перетащите файлы сюда, чтобы прикрепить',
  remove: (name) => `Убрать ${name}`,
  retry: 'Повторить',
  uploading: (name) => `Загружается ${name}`,
  fileTooLarge: 'Файл слишком большой для отправки',
  fileRejected: 'Этот файл нельзя отправить',
  uploadFailed: 'Не удалось загрузить',
  tooManyFiles: (n) => `Не больше ${n} файлов в одном сообщении`,
  filesFailed: 'Некоторые файлы не загрузились: повторите или уберите их.',
  waitingUploads: 'Отправим, как только файлы загрузятся…',
  download: 'Скачать',
  sizeUnits: ['Б', 'КБ', 'МБ', 'ГБ'],
  hideGreeting: 'Скрыть',
};

export function pickLocale(langs: readonly string[]): Locale {
  const first = (langs[0] || '').toLowerCase();
  return first.startsWith('ru') ? 'ru' : 'en';
}

export function stringsFor(locale: Locale): Strings {
  return locale === 'ru' ? ru : en;
}
